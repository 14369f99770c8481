"""The trusted checker's JSON contract: what the Lean checker prints, and what the verdict reads.

The checker prints exactly one JSON object on stdout and exits 0 whenever it reached a conclusion
(including a rejection); any other exit, no object, two objects, or an object that does not
validate here is a broken contract, which the flow turns into a rejection or `internal`, never a
pass. See docs/checker-contract.md for the full description.

Contract 2 (docs/audit-design.md, section 7; the checker that reads exports, docs/export-format.md)
adds `check`, `collisions` and three outcomes about the export. Both are accepted until the flow
moves to exports (migration step 4): `parse_report` reads either, strictly, by its `contract`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ACCEPTED_CONTRACTS",
    "CHECKER_ID",
    "CONSTANT_KINDS",
    "CONTRACT_VERSION",
    "EXPORT_CONTRACT_VERSION",
    "STATEMENT_OUTCOMES",
    "AuditOutcome",
    "AuditReport",
    "Collision",
    "CompileFailure",
    "ConstantKind",
    "DeclarationAudit",
    "ExportAuditReport",
    "ExportOutcome",
    "ReportError",
    "parse_report",
]

#: The contract the audit flow speaks today (the checker that reads `.olean` files).
CONTRACT_VERSION = 1
#: The export-reading checker's contract (docs/audit-design.md, section 7).
EXPORT_CONTRACT_VERSION = 2
ACCEPTED_CONTRACTS = frozenset({CONTRACT_VERSION, EXPORT_CONTRACT_VERSION})


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


class ExportOutcome(str, Enum):
    """Contract 2's outcomes beyond contract 1's, each about the export the checker read."""

    export_invalid = "export_invalid"  # the elaborator's export is malformed (verdict `failed`)
    export_too_large = "export_too_large"  # over a limit of docs/export-format.md (`failed`)
    import_redeclared = "import_redeclared"  # an exported name of the imports, not equal (`failed`)


#: A kind of constant a report names (`Collision.kind`; contract 1 leaves `kind` free).
ConstantKind = Literal[
    "theorem",
    "definition",
    "opaque",
    "axiom",
    "inductive",
    "constructor",
    "recursor",
    "quotient",
]
#: The kinds of constant a report names, as `ConstantKind` lists them.
CONSTANT_KINDS: tuple[str, ...] = get_args(ConstantKind)


class Collision(BaseModel):
    """An exported constant whose name the imports already hold (design section 6, requirement
    3): equal to the imported one (`identical`, not replayed) or not (`import_redeclared`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: ConstantKind
    identical: bool


class ExportAuditReport(BaseModel):
    """Contract 2's one JSON object: contract 1's fields, every one as strict, plus the `check`
    it answers and the `collisions`, both required."""

    model_config = ConfigDict(extra="forbid")

    contract: Literal[2]
    check: int = Field(ge=0)  # the request's number, echoed: a reply to another check is refused
    checker: str
    lean: str
    outcome: AuditOutcome | ExportOutcome
    detail: str = ""
    target: str | None = None
    declaration: str | None = None
    target_axioms: list[str]
    disallowed_axioms: list[str]
    declarations: list[DeclarationAudit]
    collisions: list[Collision]  # required: a missing list is a broken report, never "none"
    answers: dict[str, str]
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _collisions_agree(self) -> ExportAuditReport:
        names = [c.name for c in self.collisions]
        if len(names) != len(set(names)):
            raise ValueError("a constant is listed twice in collisions")
        differing = {c.name for c in self.collisions if not c.identical}
        if self.outcome is ExportOutcome.import_redeclared:
            if self.declaration is None or self.declaration not in differing:
                raise ValueError(
                    "import_redeclared must name in `declaration` a collision that is not identical"
                )
        elif differing and self.outcome is AuditOutcome.ok:
            raise ValueError(f"ok with a collision that is not identical: {sorted(differing)[0]}")
        return self


class ReportError(ValueError):
    """A checker's output that is no report of an accepted contract; the flow turns it into
    `AuditError` (never a pass)."""


def parse_report(stdout: bytes | str) -> AuditReport | ExportAuditReport:
    """Exactly one JSON object, validated strictly by the model of its `contract` (1 or 2): no
    extra, missing or duplicate fields, no strings for numbers, no NaN, nothing after it."""
    try:
        text = stdout.decode("utf-8") if isinstance(stdout, bytes) else stdout
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except ValueError as exc:  # includes UnicodeDecodeError and the hooks' refusals
        raise ReportError(f"the checker printed no single JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise ReportError(f"the checker printed a JSON {type(value).__name__}, not an object")
    contract = value.get("contract")
    model: type[AuditReport] | type[ExportAuditReport]
    if contract == EXPORT_CONTRACT_VERSION and type(contract) is int:
        model = ExportAuditReport
    elif contract == CONTRACT_VERSION and type(contract) is int:
        model = AuditReport
    else:
        raise ReportError(
            f"the checker speaks contract {json.dumps(contract)[:20]}, proofgate reads "
            f"{sorted(ACCEPTED_CONTRACTS)}: rebuild it (`lake build proofgate-checker`)"
        )
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise ReportError(f"the checker's report breaks contract {contract}: {exc}") from exc


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys in {sorted(keys)}")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
