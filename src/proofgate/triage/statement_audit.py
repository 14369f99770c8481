"""Audit each statement of a benchmark on a backend: what Lean says of it, kept as one record a
statement in an append-only file, so a stopped audit resumes where it stopped.

For each statement, three questions go to the backend (an in-process service or a server):

1. `triage` (`POST /v1/triage`): does it elaborate, and is it trivial, false or vacuous? Probes
   run with triage's budget and timeouts.
2. a free compile (`POST /v1/check`) of the statement followed by
   `#check (type_of% @_root_.NAME)`: Lean's answer, `TYPE : Prop`, is its elaborated, closed type
   as Lean prints it (the duplicate and lineage comparisons hash it without binder names);
3. a free compile of the statement with `set_option autoImplicit false` after its imports: a
   statement that elaborates with auto-bound implicits (Lean's default) and fails without them
   has variables that exist only because of them; Lean's errors name them.

A record is `complete` unless the elaboration or a type query did not finish (a timeout, the
service's fault); a probe over its time is triage's own answer and counts. A resumed audit skips
complete records and redoes the rest (the last record of an id wins).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from proofgate.exceptions import SubmissionError
from proofgate.lean.lexer import tokenize
from proofgate.lean.syntax import read_header
from proofgate.models import Message, Severity, Submission, TriageRequest, TriageResult, Verdict
from proofgate.store.lines import LinesFile
from proofgate.triage.dataset import DatasetStatement
from proofgate.verify.probes import lean_name

__all__ = [
    "AuditOptions",
    "RecordsFile",
    "StatementRecord",
    "audit_statement",
    "auto_bound_names",
    "inspection_codes",
    "run_audit",
]

TriageCall = Callable[[TriageRequest], Awaitable[TriageResult]]
CheckCall = Callable[[Submission], Awaitable[Verdict]]

#: Lean's errors for a name it would have auto-bound: "Unknown identifier `x`" (v4.32.0's
#: spelling, as recorded in the REPL's `dup_msg` reply) or the older "unknown identifier 'x'";
#: universes: "unknown universe level `u`" / 'u'.
_UNBOUND = re.compile(
    r"^(?:Unknown|unknown) (?:identifier|universe level) [`'](?P<name>[^`']+)[`']"
)
_INFRA = frozenset({"timeout", "out_of_memory", "internal"})


class AuditOptions(BaseModel):
    """What every statement's questions are asked with."""

    environment: str = "default"
    closers: list[str] | None = None
    budget: float | None = None


class StatementRecord(BaseModel):
    """Everything Lean said of one statement (findings are computed from records, in the report)."""

    id: str
    lineage: str
    name: str
    line: int
    complete: bool = Field(description="Its answers depend on no timing or service fault.")
    error: str | None = Field(None, description="The line is unusable, or the request refused.")
    unfinished: str | None = Field(None, description="Why it could not be audited on this run.")
    triage: TriageResult | None = None
    elaborated_type: str | None = Field(None, description="The closed type, as Lean printed it.")
    type_messages: list[Message] = Field(
        default_factory=list, description="The type query's messages when it printed no type."
    )
    without_auto_bound: Literal["ok", "failed"] | None = None
    auto_bound: list[str] = Field(default_factory=list, description="Names Lean auto-bound.")
    auto_bound_messages: list[Message] = Field(
        default_factory=list, description="Lean's errors with `autoImplicit false`."
    )

    def to_line(self) -> str:
        return self.model_dump_json(exclude_none=True)


def inspection_codes(lean: str, target: str) -> tuple[str, int, str]:
    """(the statement with the type query after it, the query's line, the statement with
    `set_option autoImplicit false` right after its imports)."""
    body = lean.rstrip("\n")
    name = lean_name(["_root_", *target.split(".")])
    with_type = f"{body}\n\n#check (type_of% @{name})\n"
    header = read_header(tokenize(lean))
    line_end = lean.find("\n", header.end)
    cut = 0 if not header.commands else len(lean) if line_end < 0 else line_end + 1
    head = lean[:cut] if cut else ""
    without = head + ("\n" if head and not head.endswith("\n") else "")
    without += "set_option autoImplicit false\n" + lean[cut:]
    return with_type, body.count("\n") + 3, without


def auto_bound_names(messages: list[Message]) -> list[str]:
    """The names Lean's errors say it cannot resolve without auto-bound implicits, in order."""
    names: list[str] = []
    for message in messages:
        match = _UNBOUND.match(message.text) if message.severity is Severity.error else None
        if match is not None and match["name"] not in names:
            names.append(match["name"])
    return names


def _record(statement: DatasetStatement, **fields: object) -> StatementRecord:
    return StatementRecord(
        id=statement.key,
        lineage=statement.lineage,
        name=statement.name,
        line=statement.line,
        **fields,  # type: ignore[arg-type]  # the caller names StatementRecord's own fields
    )


async def audit_statement(
    statement: DatasetStatement,
    options: AuditOptions,
    *,
    triage: TriageCall,
    check: CheckCall,
) -> StatementRecord:
    """Ask the backend the three questions of one statement. Raises what the backend raises when
    it cannot go on (`NotReady`, `Busy`, a server error); a refused request is the record's
    `error`."""
    if statement.error is not None:
        return _record(statement, complete=True, error=statement.error)
    try:
        request = TriageRequest(
            statement=statement.lean,
            environment=options.environment,
            closers=options.closers,
            budget=options.budget,
        )
    except ValidationError as exc:
        return _record(statement, complete=True, error=f"not a valid triage request: {exc}")
    try:
        triaged = await triage(request)
    except SubmissionError as exc:
        return _record(statement, complete=True, error=str(exc))
    if triaged.elaboration_unfinished:
        return _record(statement, complete=False, unfinished=triaged.reason, triage=triaged)
    if triaged.elaboration != "ok" or triaged.target is None:
        return _record(statement, complete=True, triage=triaged)
    with_type, query_line, without = inspection_codes(statement.lean, triaged.target)
    typed, unbound = await asyncio.gather(
        check(Submission(code=with_type, environment=options.environment)),
        check(Submission(code=without, environment=options.environment)),
    )
    unfinished = [v for v in (typed, unbound) if v.status.value in _INFRA]
    if unfinished:
        return _record(
            statement,
            complete=False,
            unfinished=f"a type query did not finish: {unfinished[0].reason}",
            triage=triaged,
        )
    printed = next(
        (
            m.text.rstrip().removesuffix(" : Prop")
            for m in typed.messages
            if m.severity is Severity.info
            and m.pos is not None
            and m.pos.line == query_line
            and m.text.rstrip().endswith(" : Prop")
        ),
        None,
    )
    errors = [m for m in unbound.messages if m.severity is Severity.error]
    return _record(
        statement,
        complete=True,
        triage=triaged,
        elaborated_type=printed,
        type_messages=[] if printed is not None else typed.messages,
        without_auto_bound="failed" if errors else "ok",
        auto_bound=auto_bound_names(errors),
        auto_bound_messages=errors,
    )


class RecordsFile:
    """The audit's records: one JSON line a statement, appended and fsynced one by one
    (`store.lines`). On open a torn last line is cut; the last record of each id is the one that
    counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, StatementRecord] = {}
        self._file = LinesFile(
            path, StatementRecord.model_validate_json, what="the audit's records"
        )

    def __enter__(self) -> RecordsFile:  # noqa: PYI034 - typing.Self needs Python 3.11
        for record in self._file.open():
            self.records[record.id] = record
        return self

    def done(self, key: str) -> bool:
        record = self.records.get(key)
        return record is not None and record.complete

    def write(self, record: StatementRecord) -> None:
        self._file.append(record.to_line())
        self.records[record.id] = record

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()


async def run_audit(
    statements: list[DatasetStatement],
    options: AuditOptions,
    records: RecordsFile,
    *,
    triage: TriageCall,
    check: CheckCall,
    jobs: int = 2,
    on_record: Callable[[StatementRecord], None] | None = None,
) -> int:
    """Audit every statement `records` does not hold complete, `jobs` at a time, writing each
    record as it arrives; how many were written. A backend error that stops the run is raised
    once the statements in flight are done or cancelled (what was written stays)."""
    gate = asyncio.Semaphore(max(1, jobs))
    written = 0

    async def one(statement: DatasetStatement) -> None:
        nonlocal written
        async with gate:
            record = await audit_statement(statement, options, triage=triage, check=check)
        records.write(record)
        written += 1
        if on_record is not None:
            on_record(record)

    tasks = [
        asyncio.ensure_future(one(statement))
        for statement in statements
        if not records.done(statement.key)
    ]
    try:
        for task in asyncio.as_completed(tasks):
            await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return written
