"""One tactic of a proof session: the checks it passes before Lean sees it, and its rendering.

`check_tactic` normalizes the text (common indentation and surrounding blank lines removed) and
refuses, with a reason a model can act on: an empty or oversized tactic, a carriage return, a line
after the first that starts at column 0, an unterminated comment or string, and whatever the policy
pass refuses in the probe `by` + the tactic indented under it. The reasons are spelled out in
`proofgate.sessions`. `render_step` writes one step for a prompt: the tactic, the outcome, the goals.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proofgate.lean.lexer import tokenize
from proofgate.models import Violation
from proofgate.models.sessions import MAX_TACTIC_CHARS
from proofgate.verify.policy import PolicyConfig, check_source

if TYPE_CHECKING:
    from proofgate.models.sessions import ProofState, TacticOutcome

__all__ = ["TacticCheck", "check_tactic", "indent_tactic", "render_step"]

#: The probe's prefix: the tactic sits under `by`, indented by this much.
_PROBE_INDENT = "  "
#: Largest rendering of one step.
_MAX_FEEDBACK_CHARS = 6000


@dataclass(frozen=True)
class TacticCheck:
    """The normalized tactic, and why it is refused (None: it may go to Lean)."""

    text: str
    refusal: str | None = None
    violations: tuple[Violation, ...] = ()


def indent_tactic(tactic: str, indent: str) -> str:
    """Every line of `tactic` under `indent` (blank lines stay blank)."""
    return "\n".join(indent + line if line.strip() else "" for line in tactic.split("\n"))


def _normalize(tactic: str) -> str:
    lines = tactic.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return textwrap.dedent("\n".join(line.rstrip() for line in lines))


def check_tactic(tactic: str, config: PolicyConfig) -> TacticCheck:
    """Whether `tactic` may run, normalized; see the module docstring for the rules."""
    if "\r" in tactic:
        return TacticCheck(tactic, "the tactic holds a carriage return: send lines ended by `\\n`")
    text = _normalize(tactic)
    if not text:
        return TacticCheck(text, "the tactic is empty: send one tactic, e.g. `intro h`")
    if len(text) > MAX_TACTIC_CHARS:
        return TacticCheck(text, f"the tactic is longer than {MAX_TACTIC_CHARS} characters")
    lines = text.split("\n")
    if lines[0][:1].isspace():
        return TacticCheck(
            text,
            "the tactic's first line is indented more than the lines after it: indent "
            "continuation lines deeper than the first",
        )
    for number, line in enumerate(lines[1:], start=2):
        if line and not line[0].isspace():
            return TacticCheck(
                text,
                f"line {number} of the tactic starts at column 0: indent continuation lines "
                "(one step is one tactic; send several one by one, or as `(tac1; tac2)`)",
            )
    for token in tokenize(text + "\n"):
        if not token.terminated:
            return TacticCheck(
                text,
                f"the tactic has an unterminated {token.kind.value.replace('_', ' ')} at line "
                f"{token.line}, column {token.column}: close it",
            )
    probe = "by\n" + indent_tactic(text, _PROBE_INDENT)
    result = check_source(probe, config)
    if result.ok:  # the permissive profile may rewrite (lower a heartbeat limit): run that text
        body = result.code.split("\n")[1:] if result.code else probe.split("\n")[1:]
        return TacticCheck("\n".join(line[len(_PROBE_INDENT) :] for line in body))
    placed = tuple(
        Violation(
            rule=v.rule,
            line=max(1, v.line - 1),
            column=max(0, v.column - len(_PROBE_INDENT)) if v.line > 1 else v.column,
            message=v.message,
        )
        for v in result.violations
    )
    first = placed[0]
    return TacticCheck(
        text,
        f"refused by policy before Lean ran it: [{first.rule}] {first.message}",
        placed,
    )


def _goals(goals: list[str]) -> list[str]:
    out: list[str] = []
    for index, goal in enumerate(goals, start=1):
        if len(goals) > 1:
            out.append(f"  goal {index}:")
        out += ["    " + line for line in goal.split("\n")]
    return out


def render_step(outcome: TacticOutcome, tactic: str, before: ProofState) -> str:
    """The step for a prompt: which tactic on which state, what came of it, the goals to work on."""
    lines = [f"tactic on state {before.state}:"] + ["  " + line for line in tactic.split("\n")]
    if outcome.outcome == "ok" and outcome.state is not None:
        after = outcome.state
        if after.status == "no_goals":
            lines.append(
                f"-> state {after.state}: no goals left. Call finish on state {after.state}: only "
                "the full check can say the proof is correct."
            )
        elif after.status == "sorry":
            lines.append(
                f"-> state {after.state}: a `sorry` closed a goal; this branch cannot be proved "
                "as it stands."
            )
            lines += _goals(after.goals)
        else:
            lines.append(f"-> state {after.state}: {len(after.goals)} goal(s):")
            lines += _goals(after.goals)
        for message in after.messages:
            lines.append(f"{message.severity.value}: {message.text}")
    else:
        lines.append(f"-> {outcome.outcome}: {outcome.reason}")
        for violation in outcome.violations:
            lines.append(
                f"  policy [{violation.rule}] at tactic line {violation.line}, column "
                f"{violation.column}: {violation.message}"
            )
        for message in outcome.messages:
            if message.text.strip() != outcome.reason.strip():
                lines.append(f"{message.severity.value}[{message.category.value}]: {message.text}")
        if before.goals:
            lines.append(f"goals of state {before.state}, unchanged:")
            lines += _goals(before.goals)
    text = "\n".join(lines)
    if len(text) > _MAX_FEEDBACK_CHARS:
        text = text[: _MAX_FEEDBACK_CHARS - 24] + "\n... (feedback truncated)"
    return text
