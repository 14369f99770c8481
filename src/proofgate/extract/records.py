"""The records `proofgate extract` writes (DATA.jsonl, one JSON object a line), as pydantic models:
the schema is these classes, documented in docs/extract.md; every record names it and its version
in `format` (as the signed reports do).

Two kinds, told apart by `record`:
- `step`: one tactic step of a proof, as Lean's REPL listed it (`allTactics`): the goals before it,
  the tactic and where it stands, the constants it used, and the goals after it and its time (from
  running the tactic again in the step's proof state);
- `proof`: one proof: the statement, the proof as submitted, the whole file Lean checked, the
  declarations its steps used, the axioms and the pins of its verdict.

Every record carries its item's verdict (`verdict`): `proved` unless `--include-unverified`.
Positions are in the lines of the proof record's `code` (1-based lines, 0-based codepoint columns).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from proofgate.models import Pins, Position, Verdict, VerdictStatus

__all__ = [
    "SCHEMA",
    "ExtractRecord",
    "ProofRecord",
    "StepRecord",
    "VerdictSummary",
    "json_schema",
    "parse_record",
]

#: The schema's name and version; a change a reader must know about bumps the number.
SCHEMA: Final = "proofgate-extract/1"


class VerdictSummary(BaseModel):
    """The verdict an item's records come from."""

    model_config = ConfigDict(extra="forbid")

    status: VerdictStatus
    audited: bool = Field(
        description="The trusted audit decided it proved (`status` is `proved`): the only "
        "records written without --include-unverified."
    )
    reason: str = ""
    content_hash: str = Field(description="The submission's content hash, as in the verdict.")

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictSummary:
        return cls(
            status=verdict.status,
            audited=verdict.status is VerdictStatus.proved,
            reason=verdict.reason,
            content_hash=verdict.content_hash,
        )


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["proofgate-extract/1"] = Field(
        description="The schema and its version: `proofgate-extract/1` (required: a reader "
        "refuses a record that does not say which it is)."
    )
    item_id: str = Field(description="The input line's `id`.")
    verdict: VerdictSummary


class StepRecord(_Record):
    """One tactic step (one entry of the REPL's `tactics`), in the REPL's order."""

    record: Literal["step"] = "step"
    index: int = Field(ge=0, description="The step's place in the REPL's list, from 0.")
    tactic: str = Field(description="The tactic as Lean printed it.")
    pos: Position
    end_pos: Position
    goals_before: str = Field(description="The goals before the step, as Lean printed them.")
    goals_after: list[str] | None = Field(
        description="Each goal open after the step, as Lean printed it when the tactic ran again "
        "in the step's proof state ([]: none left); null when it could not run again (see note)."
    )
    used_constants: list[str] | None = Field(
        description="The constants the step used (the REPL's `usedConstants`); null where the "
        "REPL version does not report them."
    )
    time_ms: float | None = Field(
        description="Wall-clock milliseconds of running the tactic again in its proof state (one "
        "REPL round trip); null when it did not run again."
    )
    note: str | None = Field(None, description="Why goals_after or time_ms is missing.")


class ProofRecord(_Record):
    """One proof: what was submitted, what Lean checked, and what the verdict pinned."""

    record: Literal["proof"] = "proof"
    statement: str | None = Field(description="The locked statement (null for a free compile).")
    proof: str | None = Field(description="The submitted proof (null when whole code was given).")
    code: str | None = Field(
        description="The whole Lean file as checked (the statement with the proof in place); "
        "the steps' positions are in its lines. Null when Lean did not run it here."
    )
    target: str | None = None
    environment: str
    declarations_used: list[str] | None = Field(
        description="The constants the proof's steps used, sorted (the union of their "
        "usedConstants); null when unknown: no steps, or a REPL without usedConstants."
    )
    axioms: list[str] = Field(description="The axioms the target reaches, from the audit.")
    pins: Pins | None = Field(description="The verdict's pins (Lean, Mathlib, REPL, checker).")
    steps: int = Field(ge=0, description="How many step records of this item precede it.")
    note: str | None = Field(None, description="Why the proof has no steps, when it has none.")


ExtractRecord = Annotated[StepRecord | ProofRecord, Field(discriminator="record")]
_RECORD: TypeAdapter[StepRecord | ProofRecord] = TypeAdapter(ExtractRecord)


def parse_record(line: str) -> StepRecord | ProofRecord:
    """One DATA.jsonl line as its record; `pydantic.ValidationError` when it is not one."""
    return _RECORD.validate_json(line)


def json_schema() -> dict[str, object]:
    """The records' JSON Schema (both kinds), as docs/extract.md describes them."""
    return _RECORD.json_schema()
