"""The trusted checker's command line and the reading of what it printed (contract 1): a report
accepted only when it answers the question asked; and leanchecker's second opinion on it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proofgate.exceptions import AuditError
from proofgate.verify.audit_request import AuditRequest
from proofgate.verify.audit_runs import MAX_OUTPUT, STDERR_TAIL, RunResult, exit_text
from proofgate.verify.contract import (
    CONTRACT_VERSION,
    EXPORT_CONTRACT_VERSION,
    STATEMENT_OUTCOMES,
    AuditOutcome,
    AuditReport,
    ExportAuditReport,
    ReportError,
    parse_report,
)

__all__ = [
    "LEANCHECKER",
    "check_agreement",
    "checker_argv",
    "checker_report",
    "parse_checker_output",
    "second_opinion",
]

#: How the second replay is named in verdicts.
LEANCHECKER = "leanchecker"
#: leanchecker's messages when it could not load the module at all (not a kernel opinion): its
#: own `Could not find any oleans for`, and `findOLean`'s / `readModuleData`'s failures.
_LEANCHECKER_LOAD_FAILURES = ("Could not find any oleans", "does not exist", "failed to read file")
#: The checker outcomes reached after the kernel accepted every replayed declaration.
_KERNEL_ACCEPTED = STATEMENT_OUTCOMES | {AuditOutcome.ok}


def checker_argv(
    command: list[str],
    *,
    submission: Path,
    challenge: Path | None,
    target: str | None,
    allowed_axioms: Sequence[str],
    answer_holes: Sequence[str],
    module_roots: Sequence[str],
) -> list[str]:
    """The checker's command line (docs/checker-contract.md, "Inputs")."""
    argv = [*command, "--submission", str(submission)]
    if challenge is not None and target is not None:
        argv += ["--challenge", str(challenge), "--target", target]
    for flag, values in (
        ("--axiom", allowed_axioms),
        ("--answer-hole", answer_holes),
        ("--module-root", module_roots),
    ):
        for value in values:
            argv += [flag, value]
    return argv


def parse_checker_output(stdout: bytes) -> AuditReport:
    """Exactly one JSON object of contract 1, by `contract.parse_report`'s rules (no extra,
    missing or duplicate fields, no NaN, nothing after it)."""
    try:
        report = parse_report(stdout)
    except ReportError as exc:
        raise AuditError(str(exc)) from exc
    if not isinstance(report, AuditReport):
        raise AuditError(
            f"the one-shot checker answered in contract {report.contract}, not "
            f"{CONTRACT_VERSION}: rebuild it (`lake build proofgate-checker`)"
        )
    return report


def checker_report(result: RunResult) -> AuditReport:
    """The report of a finished checker run; every other ending is an AuditError."""
    stderr = result.stderr.decode("utf-8", "replace")[-STDERR_TAIL:]
    if result.timed_out:
        raise AuditError(f"the checker did not finish in time (after {result.duration_ms} ms)")
    if result.out_of_memory:
        raise AuditError("the checker went over its memory cap: raise PROOFGATE_MEMORY_LIMIT_MB")
    if result.output_truncated:
        raise AuditError(f"the checker printed more than {MAX_OUTPUT} bytes")
    if result.limit_exceeded == "processes":
        raise AuditError("the checker went over its process cap")
    if result.returncode != 0:
        raise AuditError(f"the checker exited with {result.returncode}: {stderr.strip()}")
    return parse_checker_output(result.stdout)


def check_agreement(report: AuditReport | ExportAuditReport, request: AuditRequest) -> None:
    """Refuse a report that does not answer the question asked (AuditError)."""
    environment, target = request.environment, request.target
    contract = (
        EXPORT_CONTRACT_VERSION if isinstance(report, ExportAuditReport) else CONTRACT_VERSION
    )
    if report.contract != contract:
        raise AuditError(
            f"checker speaks contract {report.contract}, proofgate {contract}: rebuild it "
            "(`lake build proofgate-checker`)"
        )
    if report.target != target:
        raise AuditError(f"the checker answered about {report.target!r}, not {target!r}")
    if report.lean != environment.lean_version:
        raise AuditError(
            f"the checker was built with Lean {report.lean}, the environment pins "
            f"{environment.lean_version}: rebuild it in {environment.directory}"
        )
    if report.outcome is not AuditOutcome.ok:
        return
    allowed = set(request.allowed_axioms)
    theorems = {d.name: d for d in report.declarations if d.kind == "theorem" and d.replayed}
    if target is None:
        expected = {a for d in theorems.values() for a in d.axioms if a not in allowed}
    else:
        if target not in theorems:
            raise AuditError(f"the checker said ok but lists no replayed theorem {target}")
        if set(theorems[target].axioms) != set(report.target_axioms):
            raise AuditError("the checker's target axioms disagree with its declaration list")
        if set(report.answers) != set(request.answer_holes):
            raise AuditError(
                f"the checker reported answers {sorted(report.answers)}, "
                f"not {sorted(request.answer_holes)}"
            )
        expected = {a for a in report.target_axioms if a not in allowed}
    if set(report.disallowed_axioms) != expected:
        raise AuditError(
            f"the checker judged the axioms {sorted(report.disallowed_axioms)} disallowed, "
            f"proofgate {sorted(expected)}"
        )


def second_opinion(report: AuditReport, result: RunResult) -> AuditReport:
    """The checker's report, judged against leanchecker's replay of the same module.

    leanchecker accepts (exit 0) or refuses (another exit, the kernel's message on stderr) the
    module's constants. It agrees when the checker's outcome says the same of the kernel. A
    checker `ok` that leanchecker refuses is an `AuditError` naming leanchecker (`internal`,
    never `proved`); any other disagreement keeps the checker's (already failing) outcome and
    puts leanchecker's word first in its `detail`. A leanchecker that did not finish, or could
    not load the module, is an `AuditError` too: the option asked for its opinion."""
    stderr = result.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
    if result.timed_out or result.out_of_memory or getattr(result, "output_truncated", False):
        raise AuditError(f"{LEANCHECKER} (the second replay) did not finish: {exit_text(result)}")
    if result.returncode != 0 and any(text in stderr for text in _LEANCHECKER_LOAD_FAILURES):
        raise AuditError(f"{LEANCHECKER} (the second replay) could not load the module: {stderr}")
    accepted = result.returncode == 0
    if report.outcome is AuditOutcome.replay_failed:
        checker_accepted = False
    elif report.outcome in _KERNEL_ACCEPTED:
        checker_accepted = True
    else:
        return report  # refused before any replay (imports, unreadable): nothing to compare
    if accepted == checker_accepted:
        return report
    if checker_accepted and report.outcome is AuditOutcome.ok:
        raise AuditError(
            f"{LEANCHECKER} disagrees with proofgate-checker: the checker replayed the submission, "
            f"{LEANCHECKER} refused it ({exit_text(result)}): {stderr}"
        )
    if accepted:
        word = (
            f"{LEANCHECKER} disagrees: it accepted the module (it replays the .olean as written, "
            "without rebuilding its terms)"
        )
    else:
        word = f"{LEANCHECKER} disagrees: it refused the module ({stderr[-300:]})"
    return report.model_copy(update={"detail": f"{word}; {report.detail}"})
