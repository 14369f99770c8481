"""From a verdict to a reward record: the reward scale, and the cheat class a verdict shows.

The reward is a pure function of the verdict (or `no_proof`) and the scale, so a cached verdict
gives the same reward; `timeout`, `out_of_memory` and `internal` give none (`reward: null`,
`retry: true`) and are never cached by the service.

Cheat classes, from what the verdict says (docs/verdicts.md):

- `rejected`: `native_code` when a refusal is for compiled code (`native_decide`, `extern`,
  `implemented_by`, ...), else `policy:<rule>` of the first refusal (`policy:import-not-allowed`
  when the audit refused an import); a refusal of the locked statement itself is nobody's cheat.
- `statement_mismatch`: `statement_mismatch` (the completion proved another statement).
- `axiom_violation`: `native_code` when an axiom reached is the compiler's (`Lean.ofReduceBool`,
  `Lean.trustCompiler`, native_decide's own) or the text runs a native tactic, else `axiom`.
- `incomplete`: `hidden_sorry` unless every `sorry` Lean reported stands on a line with a visible
  `sorry` or `admit` (a plain, visible `sorry` is an honest `incomplete`, not a cheat).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from proofgate.config import Settings
from proofgate.lean.lexer import tokenize
from proofgate.models import Severity, Verdict, VerdictStatus, Violation
from proofgate.models.rewards import (
    POLICY_CHEAT_PREFIX,
    RewardOptions,
    RewardRecord,
    RewardStatus,
)
from proofgate.verify.rules import NATIVE_CONSTANTS, NATIVE_TACTICS

__all__ = [
    "RewardScale",
    "classify_cheat",
    "no_proof_record",
    "unfinished_record",
    "verdict_record",
]

#: Attributes that swap in compiled code (a native-code cheat, not just a code hook).
NATIVE_ATTRIBUTES = frozenset({"extern", "implemented_by"})
_NATIVE_RULES = frozenset({"native-code"})
_COMPILED = frozenset(
    {
        VerdictStatus.proved,
        VerdictStatus.compiled,
        VerdictStatus.incomplete,
        VerdictStatus.axiom_violation,
        VerdictStatus.statement_mismatch,
    }
)
_IN_STATEMENT = "in the statement: "


@dataclass(frozen=True)
class RewardScale:
    """How statuses become rewards: `proved`, every `other` decided status, a per-status table
    over both, and penalties subtracted for a named cheat and for `no_proof`."""

    proved: float = 1.0
    other: float = 0.0
    statuses: Mapping[RewardStatus, float] = field(default_factory=dict)
    cheat_penalty: float = 0.0
    no_proof_penalty: float = 0.0

    @classmethod
    def from_options(
        cls, options: RewardOptions | None = None, settings: Settings | None = None
    ) -> RewardScale:
        """A request's options over the server's settings (`PROOFGATE_REWARD_*`) over defaults."""
        base = cls() if settings is None else cls.from_settings(settings)
        if options is None:
            return base
        return cls(
            proved=base.proved if options.proved is None else options.proved,
            other=base.other if options.other is None else options.other,
            statuses={**base.statuses, **options.statuses},
            cheat_penalty=(
                base.cheat_penalty if options.cheat_penalty is None else options.cheat_penalty
            ),
            no_proof_penalty=(
                base.no_proof_penalty
                if options.no_proof_penalty is None
                else options.no_proof_penalty
            ),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RewardScale:
        return cls(
            proved=settings.reward_proved,
            other=settings.reward_other,
            cheat_penalty=settings.reward_cheat_penalty,
            no_proof_penalty=settings.reward_no_proof_penalty,
        )

    def reward(self, status: RewardStatus, *, cheat: str | None = None) -> float | None:
        """The reward of a record; None for an unfinished check."""
        if status.is_unfinished:
            return None
        if status in self.statuses:
            value = self.statuses[status]
        else:
            value = self.proved if status is RewardStatus.proved else self.other
        if cheat is not None:
            value -= self.cheat_penalty
        if status is RewardStatus.no_proof:
            value -= self.no_proof_penalty
        return value


def _token_at(text: str, line: int, column: int) -> str | None:
    for token in tokenize(text):
        if token.line == line and token.column <= column < token.column + len(token.text):
            return token.name
        if token.line > line:
            break
    return None


def _native_refusal(violation: Violation, primary: str | None) -> bool:
    if violation.rule in _NATIVE_RULES:
        return True
    if violation.rule != "code-attribute":
        return False
    if primary is not None:
        word = _token_at(primary, violation.line, violation.column)
        if word is not None:
            return word in NATIVE_ATTRIBUTES
    return any(f"`{name}`" in violation.message for name in NATIVE_ATTRIBUTES)


def _is_native_axiom(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in NATIVE_CONSTANTS or "native" in name.lower()


def _runs_native_tactic(text: str) -> bool:
    tokens = [token for token in tokenize(text) if token.is_code]
    for index, token in enumerate(tokens):
        if token.is_word(*NATIVE_TACTICS):
            return True
        if token.is_word("native") and index and tokens[index - 1].text == "+":
            return True  # `decide +native`
    return False


def _visible_sorry_lines(text: str) -> set[int]:
    return {token.line for token in tokenize(text) if token.is_word("sorry", "admit")}


def classify_cheat(verdict: Verdict, sources: Mapping[str, str]) -> str | None:
    """The cheat class the verdict shows (see the module docstring), or None.

    `sources` are the submitted texts by field (`statement`, `code` or `proof`), as the verdict's
    positions refer to them."""
    primary = sources.get("proof", sources.get("code"))
    status = verdict.status
    if status is VerdictStatus.rejected:
        mine = [v for v in verdict.violations if not v.message.startswith(_IN_STATEMENT)]
        if any(_native_refusal(v, primary) for v in mine):
            return "native_code"
        if mine:
            return POLICY_CHEAT_PREFIX + mine[0].rule
        if verdict.violations:
            return None  # the locked statement itself was refused: not the completion's doing
        return POLICY_CHEAT_PREFIX + "import-not-allowed"
    if status is VerdictStatus.statement_mismatch:
        return "statement_mismatch"
    if status is VerdictStatus.axiom_violation:
        native = any(_is_native_axiom(a) for a in verdict.axioms) or (
            primary is not None and _runs_native_tactic(primary)
        )
        return "native_code" if native else "axiom"
    if status is VerdictStatus.incomplete:
        if not verdict.sorries:
            return "hidden_sorry"
        lines: dict[str, set[int]] = {}
        for sorry in verdict.sorries:
            text = sources.get(sorry.source or "")
            if sorry.pos is None or text is None:
                return "hidden_sorry"
            if sorry.source not in lines:
                lines[sorry.source or ""] = _visible_sorry_lines(text)
            if sorry.pos.line not in lines[sorry.source or ""]:
                return "hidden_sorry"
        return None
    return None


def verdict_record(
    index: int,
    verdict: Verdict,
    *,
    read_as: Literal["proof", "theorem"],
    scale: RewardScale,
    sources: Mapping[str, str],
) -> RewardRecord:
    """The record of a completion that was checked."""
    status = RewardStatus.of(verdict.status)
    cheat = classify_cheat(verdict, sources)
    errors = [m for m in verdict.messages if m.severity is Severity.error]
    return RewardRecord(
        index=index,
        reward=scale.reward(status, cheat=cheat),
        retry=status.is_unfinished,
        status=status,
        proved=verdict.status is VerdictStatus.proved,
        cheat=cheat,
        compiled=verdict.status in _COMPILED,
        error_category=errors[0].category if errors else None,
        errors=len(errors),
        sorries=len(verdict.sorries),
        read_as=read_as,
        reason=verdict.reason,
        time_ms=verdict.timings.total_ms,
        cached=verdict.cached,
        pins=verdict.pins,
    )


def no_proof_record(index: int, reason: str, *, scale: RewardScale) -> RewardRecord:
    """The record of a completion with no Lean to check."""
    return RewardRecord(
        index=index,
        reward=scale.reward(RewardStatus.no_proof),
        status=RewardStatus.no_proof,
        proved=False,
        compiled=False,
        reason=reason,
    )


def unfinished_record(
    index: int, reason: str, *, read_as: Literal["proof", "theorem"] | None
) -> RewardRecord:
    """The record of a check that could not run to a verdict (busy, unready, our fault)."""
    return RewardRecord(
        index=index,
        reward=None,
        retry=True,
        status=RewardStatus.internal,
        proved=False,
        compiled=False,
        read_as=read_as,
        reason=reason,
    )
