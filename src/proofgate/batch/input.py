"""A batch's input (`INPUT.jsonl`, one submission a line) and its output records (`RESULTS.jsonl`).

Every input line becomes exactly one output record per environment it is checked in, under its id
and that environment, so a run can be resumed by (id, environment): a good line is a `BatchItem`;
a bad one (not JSON, a missing or duplicate id, a malformed submission) becomes an error record
naming its line and field, and never stops the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from proofgate.exceptions import ConfigError
from proofgate.lean.header import split_header
from proofgate.models import Submission, Verdict
from proofgate.models.validation import first_error

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "RESULTS_FORMAT",
    "BatchItem",
    "BatchRecord",
    "ItemError",
    "count_items",
    "header_key",
    "read_items",
]

#: Fields an input line may carry besides the `Submission`'s own.
ID_FIELD = "id"
#: The results format this version writes, in every record's `format`. Format 1 (records without
#: `format`): one record per id. Format 2: one record per (id, environment), each naming its
#: `environment` (`proofgate batch --environments`).
RESULTS_FORMAT = "proofgate-batch/2"
#: Where an item is checked when neither its line nor the run names an environment.
DEFAULT_ENVIRONMENT = "default"


class ItemError(BaseModel):
    """Why an item has no verdict: its input line (`input`), the service refused it as malformed
    (`submission`), or checking it kept killing the worker (`infrastructure`)."""

    kind: Literal["input", "submission", "infrastructure"]
    line: int = Field(ge=1, description="The item's line in the input file (1-based).")
    field: str | None = Field(None, description="The input field at fault, when one is.")
    message: str


class BatchRecord(BaseModel):
    """One output line: an item's verdict or its error in one environment, with how many tries it
    took. The results file stamps `format` when it writes the record."""

    format: str | None = Field(
        None, description=f"`{RESULTS_FORMAT}`; absent in a format-1 record (one per id)."
    )
    id: str
    environment: str | None = Field(
        None, description="The environment it was checked in (absent in a format-1 record)."
    )
    line: int = Field(ge=1)
    verdict: Verdict | None = None
    error: ItemError | None = None
    attempts: int = Field(1, ge=0, description="Checks started for this item (retries included).")

    def to_line(self) -> str:
        """The record as one JSON line (no newline)."""
        return self.model_dump_json(exclude_none=True)


@dataclass(frozen=True)
class BatchItem:
    """One well-formed input line."""

    id: str
    line: int
    submission: Submission

    @property
    def environment(self) -> str:
        return self.submission.environment

    def in_environment(self, environment: str) -> BatchItem:
        """The same item checked in `environment` (whatever its line named)."""
        if environment == self.environment:
            return self
        submission = self.submission.model_copy(update={"environment": environment})
        return BatchItem(self.id, self.line, submission)

    def record(self, verdict: Verdict, *, attempts: int = 1) -> BatchRecord:
        return self._record(attempts, verdict=verdict)

    def error(
        self,
        kind: Literal["submission", "infrastructure"],
        message: str,
        *,
        field: str | None = None,
        attempts: int = 1,
    ) -> BatchRecord:
        problem = ItemError(kind=kind, line=self.line, field=field, message=message)
        return self._record(attempts, error=problem)

    def _record(
        self, attempts: int, *, verdict: Verdict | None = None, error: ItemError | None = None
    ) -> BatchRecord:
        """This item's record in its environment: its verdict, or its error."""
        return BatchRecord(
            id=self.id,
            environment=self.environment,
            line=self.line,
            verdict=verdict,
            error=error,
            attempts=attempts,
        )


def header_key(submission: Submission) -> tuple[str, str]:
    """What a warm worker is keyed by: the environment and the normalized header, as the pool keys
    it (`import all M` and `import M` are different headers; comments and spacing are not).

    A locked check runs the statement's header (the proof is spliced into it) unless whole `code`
    is given, whose own imports then lead.
    """
    source = submission.code if submission.code is not None else submission.statement or ""
    return submission.environment, split_header(source).header


def _input_error(item_id: str, line: int, message: str, field: str | None = None) -> BatchRecord:
    problem = ItemError(kind="input", line=line, field=field, message=message)
    return BatchRecord(id=item_id, line=line, error=problem, attempts=0)


def _parse_line(text: str, line: int, seen: dict[str, int]) -> BatchItem | BatchRecord:
    fallback = f"line:{line}"  # the id of a line that has no usable one of its own
    try:
        value: Any = json.loads(text)
    except ValueError as exc:
        return _input_error(fallback, line, f"not a JSON object: {exc}; write one object a line")
    if not isinstance(value, dict):
        return _input_error(fallback, line, "not a JSON object; write one object a line")
    raw_id = value.pop(ID_FIELD, None)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id) == "":
        message = "missing `id`: give every line a unique string id"
        if raw_id is not None:
            message = f"`id` must be a non-empty string or an integer, not {raw_id!r}"
        return _input_error(fallback, line, message, ID_FIELD)
    item_id = str(raw_id)
    if item_id.startswith("line:"):
        return _input_error(fallback, line, "ids starting with `line:` are reserved", ID_FIELD)
    if item_id in seen:
        return _input_error(
            fallback, line, f"duplicate id {item_id!r} (first on line {seen[item_id]})", ID_FIELD
        )
    seen[item_id] = line
    try:
        submission = Submission.model_validate(value)
    except ValidationError as exc:
        field, message = first_error(exc)
        if exc.errors()[0]["type"] == "extra_forbidden":
            message = f"unknown field; an input line holds `id` and {_submission_fields()}"
        return _input_error(item_id, line, message, field)
    return BatchItem(item_id, line, submission)


def _submission_fields() -> str:
    return ", ".join(f"`{name}`" for name in Submission.model_fields)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of `path` with their 1-based numbers; an unreadable file is a ConfigError."""
    try:
        with path.open(encoding="utf-8") as stream:
            for number, text in enumerate(stream, start=1):
                if text.strip():
                    yield number, text
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the batch input {path}: {exc}") from exc


def read_items(path: Path) -> Iterator[BatchItem | BatchRecord]:
    """Each non-blank line of `path` as a `BatchItem`, or as the error record standing for it.

    Ids are decided from the file alone (a line without a usable id is `line:N`), so a resumed
    run assigns every line the same id again.
    """
    seen: dict[str, int] = {}
    for number, text in _lines(path):
        yield _parse_line(text, number, seen)


def count_items(path: Path) -> int:
    """How many records the input will produce (its non-blank lines)."""
    return sum(1 for _ in _lines(path))
