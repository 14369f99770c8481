"""The trusted checker's JSON contract: what the Lean checker prints, and what the verdict reads.

The checker prints exactly one JSON object on stdout and exits 0 whenever it reached a conclusion
(including a rejection); any other exit, no object, two objects, or an object that does not
validate here is a broken contract, which the flow turns into a rejection or `internal`, never a
pass. See docs/checker-contract.md for the full description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CHECKER_ID",
    "CONTRACT_VERSION",
    "STATEMENT_OUTCOMES",
    "AuditOutcome",
    "AuditReport",
    "CompileFailure",
    "DeclarationAudit",
]

CONTRACT_VERSION = 1


class AuditOutcome(str, Enum):
    ok = "ok"  # target found, statement identical, replayed (axioms still to be judged)
    target_missing = "target_missing"
    not_a_theorem = "not_a_theorem"
    type_mismatch = "type_mismatch"
    universe_mismatch = "universe_mismatch"
    statement_constant_changed = "statement_constant_changed"
    replay_failed = "replay_failed"  # the kernel refused a declaration (`declaration` names it)
    target_not_replayed = "target_not_replayed"  # e.g. unsafe/partial: replay skips it silently
    import_not_allowed = "import_not_allowed"
    bad_input = "bad_input"  # unreadable .olean, wrong toolchain header, ...


#: The outcomes that say the submission proves something other than the locked statement. The
#: kernel accepted every replayed declaration to reach them (as it did for `ok`).
STATEMENT_OUTCOMES = frozenset(
    {
        AuditOutcome.target_missing,
        AuditOutcome.not_a_theorem,
        AuditOutcome.type_mismatch,
        AuditOutcome.universe_mismatch,
        AuditOutcome.statement_constant_changed,
        AuditOutcome.target_not_replayed,
    }
)


class DeclarationAudit(BaseModel):
    """One new declaration of the submission, with the axioms it reaches."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str  # theorem, definition, opaque, axiom, inductive, ...
    axioms: list[str]  # required: a declaration listed without them must not look axiom-free
    replayed: bool  # False: unsafe/partial, which the kernel replay skips (never usable)


class AuditReport(BaseModel):
    """The checker's one JSON object.

    Every field that can decide a pass has no default: a report that leaves one out is a broken
    contract (`AuditError`), never a report of "no axioms" or "nothing declared"."""

    model_config = ConfigDict(extra="forbid")

    contract: int
    checker: str  # checker name and version
    lean: str  # toolchain version the checker was built with, e.g. "v4.32.0"
    outcome: AuditOutcome
    detail: str = ""
    target: str | None = None  # None in a free compile
    declaration: str | None = None  # the declaration a failure is about
    target_axioms: list[str]  # axioms the target reaches
    # The checker's own judgement against the allowlist it was given: the target's axioms outside
    # it (free compile: every theorem's). The flow recomputes it and refuses a disagreement.
    disallowed_axioms: list[str]
    declarations: list[DeclarationAudit]  # every new declaration
    answers: dict[str, str]  # answer holes' submitted values
    timings_ms: dict[str, float] = Field(default_factory=dict)


#: The checker's name and version, as `Proofgate/Checker.lean` prints it (`checkerId`); part of
#: every cached verdict's key, so a new checker never reuses an old checker's verdicts.
CHECKER_ID = "proofgate-checker 1"


@dataclass(frozen=True)
class CompileFailure:
    """The audit's other outcome: `lean -o` refused the submission. The verdict is `failed`, or
    `timeout` / `out_of_memory` when `timed_out` / `out_of_memory` is set. A value, not an error:
    faults of the audit itself (a broken checker) are `AuditError`s."""

    reason: str
    messages: list[str] = field(default_factory=list)  # Lean's, `line:column: text`, one a line
    output: str = ""
    timed_out: bool = False
    out_of_memory: bool = False

    def __str__(self) -> str:
        return self.reason
