"""The verdict logic: policy violations, Lean's messages and the trusted audit's report in, one
status and a one-line reason out (DESIGN.md, "Verdicts").

Precedence, highest first, when several hold:

    rejected > failed > [timeout | out_of_memory | internal] > statement_mismatch
             > axiom_violation > incomplete > proved (check) / compiled (free compile)

- `rejected`: a policy violation, or the audit found an import outside the allowlist.
- `failed`: Lean reported an error (the REPL, or the audit's own compile), or the kernel refused a
  declaration on replay, or a free compile's `target` is not among its theorems (category
  `target_missing`, read before Lean and confirmed by the audit), or the submission's worker
  died by the same signal on its retry on a fresh worker as on its first try (category
  `killed_worker`: a worker killed once is `internal` and retried). Deterministic, so it
  outranks an unfinished run: a run that errors is failed whatever else went wrong.
- timeout / out_of_memory / internal: the run did not finish, or the trusted audit is missing or
  could not conclude. Never `proved`, never blamed on the proof. `bad_input` (the checker could not
  read the compiled submission: a hostile .olean or a toolchain mismatch) is `internal`.
- `statement_mismatch`: target missing, not a theorem, another type or universe parameters, a
  statement constant changed, or the target not replayed (an `unsafe`/`partial` target: not a
  theorem the kernel checked, so not the statement).
- `axiom_violation`: the target (free compile: any theorem) reaches an axiom outside the allowlist
  other than `sorryAx`; an axiom the submission declares itself is never allowed, whatever the
  allowlist says.
- `incomplete`: `sorryAx` among the target's axioms as the audit walked them (never warning text:
  `warn.sorry` can switch the warning off). A `sorry` in a declaration the target does not use is
  reported, and does not block `proved`. In a free compile, every theorem must be sorry-free, and a
  `sorry` the REPL reports (e.g. in an `example`, which leaves no constant) counts too.
- `proved` / `compiled`: only from an audit report with outcome `ok`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from proofgate.__about__ import __version__
from proofgate.exceptions import (
    AuditError,
    ReplOutOfMemory,
    ReplTimeout,
    WorkerKilled,
)
from proofgate.lean.lexer import tokenize
from proofgate.lean.reply import ReplMessage, ReplReply
from proofgate.models import (
    Category,
    Message,
    Pins,
    Position,
    Severity,
    Timings,
    Verdict,
    VerdictStatus,
    Violation,
)
from proofgate.verify.contract import (
    CHECKER_ID,
    CONTRACT_VERSION,
    EXPORT_CONTRACT_VERSION,
    STATEMENT_OUTCOMES,
    AuditOutcome,
    AuditReport,
    CompileFailure,
    ExportAuditReport,
    ExportOutcome,
)
from proofgate.verify.feedback import (
    Place,
    feedback_message,
    lean_message,
    messages_from_repl,
    policy_messages,
    render_annotated,
    sorries_from_repl,
)

if TYPE_CHECKING:
    from proofgate.environments.registry import Environment
    from proofgate.verify.assemble import Assembled
    from proofgate.verify.policy import PolicyResult

__all__ = [
    "DEFAULT_ALLOWED_AXIOMS",
    "SORRY_AXIOM",
    "AuditResult",
    "InfraFailure",
    "audit_messages",
    "build_verdict",
    "decide_verdict",
    "disallowed_axioms",
    "pins_for",
]

SORRY_AXIOM = "sorryAx"
DEFAULT_ALLOWED_AXIOMS = ("propext", "Classical.choice", "Quot.sound")

#: A trusted checker's report: contract 1 (one-shot, .olean files) or 2 (warm, exports).
Report = AuditReport | ExportAuditReport
#: What the audit step produced: its report, the submission's compile failure, or nothing.
AuditResult = Report | CompileFailure | None

_OUTCOME_WORDS = {
    AuditOutcome.target_missing: "the target theorem is missing from the submission",
    AuditOutcome.not_a_theorem: "the target is not a theorem",
    AuditOutcome.type_mismatch: "the target's type differs from the locked statement's",
    AuditOutcome.universe_mismatch: "the target's universe parameters differ from the statement's",
    AuditOutcome.statement_constant_changed: "a constant the statement uses was changed",
    AuditOutcome.target_not_replayed: "the kernel replay skipped the target (unsafe or partial)",
    AuditOutcome.replay_failed: "the kernel refused a declaration",
    AuditOutcome.import_not_allowed: "the submission imports a module outside the allowlist",
    AuditOutcome.bad_input: "the trusted checker could not read the compiled submission",
    ExportOutcome.export_invalid: "the compiled submission's export is malformed",
    ExportOutcome.export_too_large: "the compiled submission's export is over a size limit",
    ExportOutcome.import_redeclared: "the submission redeclares an imported constant differently",
}


@dataclass(frozen=True)
class InfraFailure:
    """A run that did not finish: the service's (or the limits') outcome, never the proof's, but
    for `killed_worker`: the submission's worker died by the same signal on its retry too, so the
    submission is to blame (a `failed` verdict)."""

    kind: Literal["timeout", "out_of_memory", "internal", "killed_worker"]
    detail: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> InfraFailure:
        """`ReplTimeout` and timed-out compiles are `timeout`, memory caps `out_of_memory`, and
        everything else (a crashed worker, a broken checker) `internal`."""
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, ReplTimeout):
            return cls("timeout", detail)
        if isinstance(exc, ReplOutOfMemory):
            return cls("out_of_memory", detail)
        if isinstance(exc, WorkerKilled):
            return cls("killed_worker", detail)
        if isinstance(exc, AuditError):
            return cls("internal", f"the trusted audit failed: {detail}")
        return cls("internal", detail)


def _errors(messages: Sequence[Message | ReplMessage]) -> list[tuple[str, int | None]]:
    """The (text, line) of each error among the REPL's messages or the wire's."""
    found: list[tuple[str, int | None]] = []
    for message in messages:
        if isinstance(message, ReplMessage):
            if message.is_error:
                found.append((message.data, message.pos.line if message.pos else None))
        elif message.severity is Severity.error:
            found.append((message.text, message.pos.line if message.pos else None))
    return found


def disallowed_axioms(
    report: Report, allowed_axioms: Collection[str], *, kind: Literal["check", "compile"]
) -> list[str]:
    """Axioms outside the allowlist other than `sorryAx` that the target (free compile: any
    theorem) reaches. Axioms the submission declares are never allowed; the checker's own
    `disallowed_axioms` can add to the list, never remove from it."""
    own = {d.name for d in report.declarations if d.kind == "axiom"}
    allowed = set(allowed_axioms) - own
    if kind == "check":
        reached = set(report.target_axioms)
    else:
        reached = {a for d in report.declarations if d.kind == "theorem" for a in d.axioms}
    found = {a for a in reached if a not in allowed} | set(report.disallowed_axioms)
    found.discard(SORRY_AXIOM)
    return sorted(found)


def _reaches_sorry(report: Report, kind: Literal["check", "compile"]) -> list[str]:
    if kind == "check":
        return [report.target or "the target"] if SORRY_AXIOM in report.target_axioms else []
    return [d.name for d in report.declarations if d.kind == "theorem" and SORRY_AXIOM in d.axioms]


def decide_verdict(
    *,
    kind: Literal["check", "compile"],
    violations: Sequence[Violation],
    repl_messages: Sequence[Message | ReplMessage],
    audit: AuditResult,
    allowed_axioms: Collection[str],
    infra_error: InfraFailure | None = None,
    target: str | None = None,
    repl_sorries: int = 0,
) -> tuple[VerdictStatus, str]:
    """The verdict's status and a one-line reason. See the module docstring for the precedence.

    `repl_messages` are the REPL's messages (as the driver read them, or `Message`s);
    `audit` is the checker's report, the audit's `CompileFailure`, or None when the audit did
    not run (then the answer is never `proved`/`compiled`); `target`, when given, must be the
    target the report answers for; `repl_sorries` counts the `sorries` the REPL reported.
    """
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return VerdictStatus.rejected, (
            f"refused by policy: [{first.rule}] line {first.line}: {first.message}{more}"
        )
    report = audit if isinstance(audit, (AuditReport, ExportAuditReport)) else None
    if report is not None and report.outcome is AuditOutcome.import_not_allowed:
        detail = f": {report.detail[:200]}" if report.detail else ""
        return VerdictStatus.rejected, f"{_OUTCOME_WORDS[report.outcome]}{detail}"
    errors = _errors(repl_messages)
    if errors:
        text, line = errors[0]
        shown = text.strip().split("\n", 1)[0][:160] + (f" (line {line})" if line else "")
        count = f"{len(errors)} error{'s' * (len(errors) > 1)}"
        return VerdictStatus.failed, f"Lean reported {count}: {shown}"
    if isinstance(audit, CompileFailure) and not (audit.timed_out or audit.out_of_memory):
        detail = audit.messages[0] if audit.messages else str(audit)
        return VerdictStatus.failed, f"the submission does not compile: {detail[:200]}"
    if report is not None and report.outcome is AuditOutcome.replay_failed:
        what = report.declaration or "a declaration"
        return VerdictStatus.failed, f"the kernel refused {what} on replay: {report.detail[:200]}"
    if report is not None and isinstance(report.outcome, ExportOutcome):
        detail = f": {report.detail[:200]}" if report.detail else ""
        return VerdictStatus.failed, f"{_OUTCOME_WORDS[report.outcome]}{detail}"
    if infra_error is None and isinstance(audit, CompileFailure):
        ended: Literal["timeout", "out_of_memory"] = (
            "timeout" if audit.timed_out else "out_of_memory"
        )
        infra_error = InfraFailure(ended, audit.reason)
    if infra_error is not None and infra_error.kind == "killed_worker":
        return VerdictStatus.failed, _infra_reason(infra_error)
    if infra_error is not None:
        return VerdictStatus(infra_error.kind), _infra_reason(infra_error)
    if report is None:
        return VerdictStatus.internal, "no trusted audit result: proofgate cannot vouch for it"
    # each report model belongs to one contract: contract 1's object claiming 2 is broken
    contract = (
        EXPORT_CONTRACT_VERSION if isinstance(report, ExportAuditReport) else CONTRACT_VERSION
    )
    if report.contract != contract:
        return VerdictStatus.internal, (
            f"the checker speaks contract {report.contract}, not {contract}"
        )
    if kind == "check" and target is not None and report.target != target:
        return VerdictStatus.internal, f"the audit answered for {report.target!r}, not {target!r}"
    if report.outcome is AuditOutcome.bad_input:
        return VerdictStatus.internal, f"{_OUTCOME_WORDS[report.outcome]}: {report.detail[:200]}"
    if report.outcome in STATEMENT_OUTCOMES:
        if kind != "check":
            return VerdictStatus.internal, (
                f"the audit reported {report.outcome.value} for a free compile, which has no target"
            )
        detail = f": {report.detail[:200]}" if report.detail else ""
        return VerdictStatus.statement_mismatch, f"{_OUTCOME_WORDS[report.outcome]}{detail}"
    if report.outcome is not AuditOutcome.ok:  # pragma: no cover - every outcome is handled above
        return VerdictStatus.internal, f"unexpected audit outcome {report.outcome.value}"
    if kind == "check":
        entry = next((d for d in report.declarations if d.name == report.target), None)
        if entry is not None and not entry.replayed:
            not_replayed = _OUTCOME_WORDS[AuditOutcome.target_not_replayed]
            return VerdictStatus.statement_mismatch, not_replayed
    else:
        skipped = [d.name for d in report.declarations if d.kind == "theorem" and not d.replayed]
        if skipped:
            return VerdictStatus.failed, f"the kernel replay skipped theorem {skipped[0]}"
    bad = disallowed_axioms(report, allowed_axioms, kind=kind)
    if bad:
        who = "the target depends" if kind == "check" else "a theorem depends"
        allowed = ", ".join(sorted(allowed_axioms)) or "none"
        return VerdictStatus.axiom_violation, (
            f"{who} on {', '.join(bad)}, outside the allowed axioms ({allowed})"
        )
    sorried = _reaches_sorry(report, kind)
    if sorried:
        return VerdictStatus.incomplete, (
            f"{', '.join(sorried[:3])} depends on sorryAx (a `sorry` or an unfinished proof)"
        )
    if kind == "compile" and repl_sorries:
        return VerdictStatus.incomplete, f"the file has {repl_sorries} `sorry` (e.g. in an example)"
    if kind == "check":
        return VerdictStatus.proved, (
            f"{report.target} is proved: kernel-checked, statement identical, allowed axioms only"
        )
    return VerdictStatus.compiled, (
        "compiled: no errors, every theorem sorry-free and within the allowed axioms"
    )


def _infra_reason(failure: InfraFailure) -> str:
    detail = f": {failure.detail[:200]}" if failure.detail else ""
    if failure.kind == "timeout":
        return f"the check ran past its time limit{detail}"
    if failure.kind == "out_of_memory":
        return f"the check went over its memory limit{detail}"
    if failure.kind == "killed_worker":
        return f"the submission killed its Lean worker, on a fresh worker too{detail}"
    return f"proofgate could not finish the check (the service's fault, not the proof's){detail}"


_Field = Literal["code", "statement", "proof"]


def _axiom_declarations(sources: Mapping[_Field, str]) -> dict[str, Place]:
    """Where the submitted text declares each `axiom NAME` (the name as written), by lexing it:
    the audit sees constants, not text, so this is how its axiom is placed on a line."""
    found: dict[str, Place] = {}
    for field, text in sources.items():
        if "axiom" not in text:
            continue
        code = [token for token in tokenize(text) if token.is_code]
        for keyword, name in pairwise(code):
            if keyword.is_word("axiom") and name.kind is keyword.kind and not name.is_word("axiom"):
                start = Position(line=name.line, column=name.column)
                end = Position(line=name.end_line, column=name.end_column)
                found.setdefault(name.name, Place(start, end, field))
    return found


def _declared_at(axiom: str, declared: Mapping[str, Place]) -> Place | None:
    """The declaration of `axiom` (a full name) in the submitted text: written so, or under a
    namespace (`Foo.cheat` declared as `cheat` inside `namespace Foo`)."""
    if axiom in declared:
        return declared[axiom]
    return next((place for name, place in declared.items() if axiom.endswith("." + name)), None)


def audit_messages(
    audit: AuditResult,
    *,
    kind: Literal["check", "compile"],
    allowed_axioms: Collection[str],
    sources: Mapping[_Field, str] | None = None,
) -> list[Message]:
    """What the audit found, as messages for the feedback. The audit sees constants, not text: a
    disallowed axiom the submitted `sources` declare points to its `axiom` line; the rest have no
    position. Includes the `sorry`s in declarations the target does not use, as warnings."""
    if not isinstance(audit, (AuditReport, ExportAuditReport)):
        return []
    messages: list[Message] = []

    def add(severity: Severity, category: Category, text: str, place: Place | None = None) -> None:
        messages.append(feedback_message(severity, category, text, place))

    if audit.outcome in STATEMENT_OUTCOMES:
        detail = f": {audit.detail}" if audit.detail else ""
        add(Severity.error, Category.statement_mismatch, f"{_OUTCOME_WORDS[audit.outcome]}{detail}")
    elif audit.outcome is AuditOutcome.replay_failed:
        add(
            Severity.error,
            Category.kernel,
            f"(kernel) {audit.declaration or 'a declaration'} was "
            f"refused on replay: {audit.detail}",
        )
    elif audit.outcome is AuditOutcome.import_not_allowed:
        add(Severity.error, Category.policy, f"{_OUTCOME_WORDS[audit.outcome]}: {audit.detail}")
    elif audit.outcome is AuditOutcome.bad_input:
        add(Severity.error, Category.internal, f"{_OUTCOME_WORDS[audit.outcome]}: {audit.detail}")
    elif isinstance(audit.outcome, ExportOutcome):
        what = f" ({audit.declaration})" if audit.declaration else ""
        add(
            Severity.error,
            Category.kernel,
            f"{_OUTCOME_WORDS[audit.outcome]}{what}: {audit.detail}",
        )
    if audit.outcome is not AuditOutcome.ok:
        return messages
    disallowed = disallowed_axioms(audit, allowed_axioms, kind=kind)
    declared = _axiom_declarations(sources or {}) if disallowed else {}
    for axiom in disallowed:
        place = _declared_at(axiom, declared)
        add(
            Severity.error,
            Category.axiom,
            f"depends on axiom `{axiom}`{', declared here,' if place else ''} which is not allowed "
            f"(allowed: {', '.join(sorted(allowed_axioms)) or 'none'}); prove it without it",
            place,
        )
    target_sorry = SORRY_AXIOM in audit.target_axioms
    for declaration in audit.declarations:
        if SORRY_AXIOM not in declaration.axioms:
            continue
        name = declaration.name
        if kind == "check" and name == audit.target:
            add(
                Severity.error,
                Category.sorry,
                f"the target {name} depends on sorryAx: a `sorry` it uses is still open",
            )
        elif kind == "compile" and declaration.kind == "theorem":
            add(Severity.error, Category.sorry, f"{name} depends on sorryAx: a `sorry` is open")
        elif kind == "check" and not target_sorry:
            add(
                Severity.warning,
                Category.sorry,
                f"{name} uses `sorry`; the target does not "
                "depend on it, so it does not block the verdict",
            )
        else:
            add(Severity.warning, Category.sorry, f"{name} uses `sorry`")
    return messages


_COMPILE_LINE = re.compile(r"^(\d+):(\d+): (.*)$", re.DOTALL)
_INFRA_CATEGORY = {
    VerdictStatus.timeout: Category.timeout,
    VerdictStatus.out_of_memory: Category.memory,
    VerdictStatus.internal: Category.internal,
}


def _compile_messages(failure: CompileFailure, assembled: Assembled) -> list[Message]:
    """The audit compile's `line:column: text` errors as messages in the submitter's text."""
    messages: list[Message] = []
    for line in failure.messages:
        match = _COMPILE_LINE.match(line)
        if match is None:
            messages.append(lean_message(line))
            continue
        text = match.group(3)
        where = assembled.locate(int(match.group(1)), int(match.group(2)))
        at = Place(where.position, source=where.field) if where is not None else None
        messages.append(lean_message(text, at=at))
    return messages


def pins_for(environment: Environment) -> Pins:
    """What a verdict (or a triage) in `environment` was reached with."""
    return Pins(
        lean=environment.lean_version,
        mathlib=environment.mathlib_commit or "none",
        repl=environment.repl_commit or "none",
        proofgate=__version__,
        checker=CHECKER_ID,
        environment=environment.name,
        lean_options=dict(environment.lean_options),
    )


def _missing_target(assembled: Assembled, audit: AuditResult) -> str | None:
    """Why a free compile's `target` is not in it: proofgate's reading of the code says so before
    Lean runs; the audit's declarations confirm a target that reading found."""
    if assembled.compile_target is None:
        return None
    if assembled.target_missing is not None:
        return assembled.target_missing
    if isinstance(audit, (AuditReport, ExportAuditReport)) and audit.outcome is AuditOutcome.ok:
        theorems = {d.name for d in audit.declarations if d.kind == "theorem"}
        if assembled.compile_target not in theorems:
            return f"the code declares no theorem {assembled.compile_target} the kernel replayed"
    return None


def build_verdict(
    *,
    assembled: Assembled,
    policy: PolicyResult,
    allowed_axioms: Collection[str],
    repl_reply: ReplReply | None = None,
    audit: AuditResult = None,
    infra_error: InfraFailure | None = None,
    content_hash: str = "",
    pins: Pins | None = None,
    timings: Timings | None = None,
) -> Verdict:
    """The whole `Verdict` for one submission: status and reason (`decide_verdict`), messages placed
    in the submitter's text, sorries with their goals, axioms, answers, and the annotated feedback.

    `repl_reply` is the REPL's reply for the assembled file, with positions in the assembled file's
    coordinates (the pool maps its header/body split back: `proofgate.lean.header`).
    """
    primary = assembled.primary
    reply = repl_reply or ReplReply()
    messages = policy_messages(policy.violations, notes=policy.notes, source=primary)
    messages += messages_from_repl(reply.messages, locate=assembled.locate)
    if isinstance(audit, CompileFailure) and not reply.has_errors:
        messages += _compile_messages(audit, assembled)
    messages += audit_messages(
        audit, kind=assembled.kind, allowed_axioms=allowed_axioms, sources=assembled.sources
    )
    sorries = sorries_from_repl(reply.sorries, locate=assembled.locate)
    status, reason = decide_verdict(
        kind=assembled.kind,
        violations=policy.violations,
        repl_messages=reply.messages,
        audit=audit,
        allowed_axioms=allowed_axioms,
        infra_error=infra_error,
        target=assembled.target,
        repl_sorries=len(sorries),
    )
    missing = _missing_target(assembled, audit)
    if missing is not None and status is not VerdictStatus.rejected:
        status, reason = VerdictStatus.failed, missing
        messages.append(
            Message(severity=Severity.error, category=Category.target_missing, text=reason)
        )
    elif infra_error is not None and infra_error.kind == "killed_worker":
        messages.append(
            Message(severity=Severity.error, category=Category.killed_worker, text=reason)
        )
    elif status in _INFRA_CATEGORY:
        category = _INFRA_CATEGORY[status]
        messages.append(Message(severity=Severity.error, category=category, text=reason))
    shown = [m for m in messages if m.source == primary or m.pos is None]
    feedback = render_annotated(
        assembled.sources[primary], shown, sorries=[s for s in sorries if s.source == primary]
    )
    axioms: list[str] = []
    answers: dict[str, str] = {}
    if isinstance(audit, (AuditReport, ExportAuditReport)):
        answers = dict(audit.answers)
        if assembled.kind == "check":
            axioms = sorted(set(audit.target_axioms))
        else:
            theorems = [d for d in audit.declarations if d.kind == "theorem"]
            axioms = sorted({a for d in theorems for a in d.axioms})
    return Verdict(
        status=status,
        kind=assembled.kind,
        target=assembled.target or assembled.compile_target,
        reason=reason,
        messages=messages,
        sorries=sorries,
        violations=list(policy.violations),
        axioms=axioms,
        answers=answers,
        feedback=feedback,
        pins=pins,
        timings=timings or Timings(),
        content_hash=content_hash,
    )
