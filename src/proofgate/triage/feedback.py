"""A triage for people and prompts: the one-line reason and the feedback text.

The feedback leads with what to do: fix the errors (shown under their lines, as a check shows
them), or reconsider a statement that is false, vacuous or trivial; then the probes that closed or
ran out of time, and how many were tried.
"""

from __future__ import annotations

from collections import Counter

from proofgate.models import ProbeKind, ProbeOutcome, TriageResult
from proofgate.verify.feedback import render_annotated

__all__ = ["render_triage", "triage_reason"]

_FLAG_TEXT = {
    ProbeKind.disproved: (
        "DISPROVED",
        (
            "its negation is proved by `{tactic}`, and the proof passed the trusted audit: the "
            "statement is false as written (an off-by-one bound, a wrong sign, a missing "
            "hypothesis?)"
        ),
    ),
    ProbeKind.vacuous: (
        "VACUOUS",
        (
            "its hypotheses alone prove False (`{tactic}`): it holds for no interesting reason; "
            "check the hypotheses"
        ),
    ),
    ProbeKind.trivially_provable: (
        "TRIVIALLY PROVABLE",
        "`{tactic}` proves it as stated: check that the interesting part was not lost",
    ),
}
_FLAG_ORDER = (ProbeKind.disproved, ProbeKind.vacuous, ProbeKind.trivially_provable)


def triage_reason(result: TriageResult, *, detail: str = "") -> str:
    """One line saying what the triage found."""
    name = result.target or "the statement"
    if result.elaboration == "rejected":
        return f"{name} is refused by policy: {detail}".rstrip(": ")
    if result.elaboration == "failed":
        return f"{name} does not elaborate: {detail}".rstrip(": ")
    if result.elaboration_unfinished:
        return (
            f"proofgate could not elaborate {name} ({result.elaboration}; the service's limit or "
            f"fault, not the statement's): {detail[:200]}"
        ).rstrip(": ")
    flags = [kind for kind in _FLAG_ORDER if kind in result.flags]
    if not flags:
        refused = any(
            p.kind is ProbeKind.disproved and p.outcome is ProbeOutcome.closed
            for p in result.probes
        )
        if refused:
            return (
                f"{name} elaborates; no flag (a negation closed, but the audit did not accept it)"
            )
        return f"{name} elaborates; no probe closed"
    found = ", ".join(f"{kind.value} (`{result.closed_by[kind]}`)" for kind in flags)
    return f"{name} elaborates; {found}"


def render_triage(result: TriageResult, statement: str) -> str:
    """The triage as text for a prompt (compact; errors annotated under the statement's lines)."""
    lines = [f"Triage: {result.reason or triage_reason(result)}"]
    if result.elaboration != "ok":
        if result.elaboration in ("failed", "rejected"):
            lines.append("Fix the statement first; no probe was run. Errors:")
            shown = [m for m in result.messages if m.source == "statement" or m.pos is None]
            lines.append(render_annotated(statement, shown, sorries=result.sorries))
        else:
            lines.append("No probe was run; retry later, or raise the service's limits.")
        return "\n".join(lines)
    for kind in _FLAG_ORDER:
        if kind in result.flags:
            label, text = _FLAG_TEXT[kind]
            lines.append(f"- {label}: {text.format(tactic=result.closed_by[kind])}")
    refused = [
        p
        for p in result.probes
        if p.kind is ProbeKind.disproved and p.outcome is ProbeOutcome.closed and not p.audited
    ]
    if refused and not result.disproved:
        lines.append(
            f"- a negation closed (`{refused[0].tactic}`) but was not accepted: "
            f"{refused[0].detail or 'it was not audited'}; `disproved` is not set"
        )
    if not result.flags:
        lines.append(
            f"- no flag: none of {', '.join(result.closers)} proved the statement, its negation, "
            "or False from its hypotheses (a signal, not a proof of a good formalization)"
        )
    if result.answer_holes:
        lines.append(
            f"- answer holes: {', '.join(result.answer_holes)} (still `sorry`: the probes and any "
            "flag are about the statement with these undetermined)"
        )
    extra = [d for d in result.sorried_definitions if d not in result.answer_holes]
    if extra:
        lines.append(f"- depends on definitions with `sorry`: {', '.join(extra)}")
    counts = Counter(p.outcome for p in result.probes)
    order = (ProbeOutcome.closed, ProbeOutcome.failed, ProbeOutcome.timeout, ProbeOutcome.skipped)
    summary = ", ".join(f"{counts[o]} {o.value}" for o in order if counts[o])
    lines.append(f"Probes ({result.budget:g} s budget): {summary or 'none'}")
    for probe in result.probes:
        if probe.outcome in (ProbeOutcome.closed, ProbeOutcome.timeout):
            note = f" - {probe.detail}" if probe.detail else ""
            lines.append(
                f"  {probe.outcome.value:<7} {probe.kind.value:<18} {probe.tactic} "
                f"({probe.time_ms:.0f} ms){note}"
            )
    return "\n".join(lines)
