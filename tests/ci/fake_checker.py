"""A stand-in for the checker service in CI-mode tests: judges the target theorem's own proof.

It finds the target's declaration in `code` by its short name and reads the lines of its proof (up
to the next blank line), then answers as the real pipeline would for these markers:
`sorry` -> incomplete (with the sorry's position), `native_decide` -> axiom_violation
(`Lean.ofReduceBool`), `bogus_tactic` -> failed (an error at it), otherwise proved. It keeps a cache
keyed by the submission's content hash, as the service's result cache does, so a repeated,
identical submission comes back `cached`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proofgate.exceptions import ProofgateError
from proofgate.models import (
    Category,
    Message,
    Pins,
    Position,
    Severity,
    SorryInfo,
    Submission,
    Verdict,
    VerdictStatus,
)
from proofgate.models.http import EnvironmentInfo

PINS = Pins(lean="v4.32.0", mathlib="81a5d257", repl="v4.32.0", proofgate="0.1.0", checker="fake")


def _proof_lines(code: str, target: str) -> list[tuple[int, str]]:
    """(line number, text) of the target's declaration, from its keyword to the next blank line."""
    short = target.rsplit(".", 1)[-1]
    lines = code.splitlines()
    pattern = re.compile(
        rf"^\s*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+(?:\S+\.)?{re.escape(short)}\b"
    )
    for index, line in enumerate(lines):
        if pattern.match(line):
            block = []
            for number in range(index, len(lines)):
                if not lines[number].strip():
                    break
                block.append((number + 1, lines[number]))
            return block
    return []


def judge(submission: Submission) -> Verdict:
    assert submission.statement is not None and submission.code is not None and submission.target
    common = {
        "kind": "check",
        "target": submission.target,
        "pins": PINS,
        "content_hash": submission.content_hash(),
    }
    block = _proof_lines(submission.code, submission.target)
    if not block:
        return Verdict(status=VerdictStatus.statement_mismatch, reason="target not found", **common)
    for line, text in block:
        if (column := text.find("bogus_tactic")) >= 0:
            return Verdict(
                status=VerdictStatus.failed,
                reason="Lean reported errors",
                messages=[
                    Message(
                        severity=Severity.error,
                        category=Category.unknown_identifier,
                        text="unknown tactic 'bogus_tactic'",
                        pos=Position(line=line, column=column),
                    )
                ],
                **common,
            )
    for line, text in block:
        if (column := text.find("sorry")) >= 0:
            return Verdict(
                status=VerdictStatus.incomplete,
                reason="the target depends on sorryAx",
                sorries=[SorryInfo(pos=Position(line=line, column=column), goal="⊢ n + 0 = n")],
                axioms=["sorryAx"],
                **common,
            )
    if any("native_decide" in text for _, text in block):
        return Verdict(
            status=VerdictStatus.axiom_violation,
            reason="the target depends on Lean.ofReduceBool, outside the allowlist",
            axioms=["Lean.ofReduceBool"],
            **common,
        )
    return Verdict(
        status=VerdictStatus.proved, reason="all checks passed", axioms=["propext"], **common
    )


def served(name: str, version: str) -> EnvironmentInfo:
    """An environment as `GET /v1/environments` lists it."""
    return EnvironmentInfo(name=name, toolchain=f"leanprover/lean4:{version}", lean=version)


@dataclass
class FakeChecker:
    """`check` as the service's; `fail_with` makes every check raise (a service fault);
    `environments` lists `served` (default v4.32.0, and one preset, v4.15.0)."""

    fail_with: ProofgateError | None = None
    seen: list[Submission] = field(default_factory=list)
    cache: dict[str, Verdict] = field(default_factory=dict)
    served: list[EnvironmentInfo] = field(
        default_factory=lambda: [served("default", "v4.32.0"), served("lean_v4_15_0", "v4.15.0")]
    )

    async def environments(self) -> list[EnvironmentInfo]:
        return list(self.served)

    async def check(self, submission: Submission) -> Verdict:
        self.seen.append(submission)
        if self.fail_with is not None:
            raise self.fail_with
        key = submission.content_hash()
        if key in self.cache:
            return self.cache[key].model_copy(update={"cached": True})
        verdict = judge(submission)
        if verdict.status.is_deterministic:
            self.cache[key] = verdict
        return verdict
