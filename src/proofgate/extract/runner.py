"""`proofgate extract`'s run: items in, verdicts known, records out in input order.

An item's verdict comes from a signed record or from its `StepSource` (`extract.steps`: the
service in this process, or a server), which gives the steps with it. Only a `proved` verdict
(decided by the trusted audit) gives records, unless `include_unverified`; then every verdict does,
and each record says which it is. A signed record's item has only its steps asked for.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from proofgate.exceptions import SubmissionError
from proofgate.extract.records import SCHEMA, ProofRecord, StepRecord, VerdictSummary
from proofgate.extract.signed import CheckedItem
from proofgate.extract.steps import StepSource
from proofgate.models import Submission, Verdict, VerdictStatus
from proofgate.models.steps import TacticSteps

__all__ = [
    "ExtractOptions",
    "ExtractSummary",
    "Pending",
    "records_for",
    "run_extract",
]

#: Verdicts whose submission Lean never ran to an answer: no steps are asked of it again (as
#: `CheckerService.check_with_tactics` computes none for them).
_NOT_RUN = frozenset(
    {
        VerdictStatus.rejected,
        VerdictStatus.timeout,
        VerdictStatus.out_of_memory,
        VerdictStatus.internal,
    }
)


@dataclass(frozen=True)
class Pending:
    """An input item: to check (`verdict` None) or already checked (a signed record's verdict)."""

    id: str
    line: int
    submission: Submission
    verdict: Verdict | None = None


@dataclass(frozen=True)
class ExtractOptions:
    include_unverified: bool = False
    jobs: int = 2


@dataclass
class ExtractSummary:
    items: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    extracted: int = 0  # items that got records
    steps: int = 0
    skipped: list[str] = field(default_factory=list)  # why an item has no verdict, per item


def records_for(
    item: CheckedItem, run: TacticSteps | None, note: str | None = None
) -> list[StepRecord | ProofRecord]:
    """`item`'s step records, then its proof record."""
    verdict = VerdictSummary.of(item.verdict)
    steps = run.steps if run is not None else []
    records: list[StepRecord | ProofRecord] = [
        StepRecord(
            format=SCHEMA,
            item_id=item.id,
            verdict=verdict,
            index=index,
            tactic=step.tactic,
            pos=step.pos,
            end_pos=step.end_pos,
            goals_before=step.goals_before,
            goals_after=step.goals_after,
            used_constants=step.used_constants,
            time_ms=step.time_ms,
            note=step.note,
        )
        for index, step in enumerate(steps)
    ]
    known = steps and all(step.used_constants is not None for step in steps)
    used = sorted({name for step in steps for name in step.used_constants or ()}) if known else None
    submission = item.submission
    records.append(
        ProofRecord(
            format=SCHEMA,
            item_id=item.id,
            verdict=verdict,
            statement=submission.statement,
            proof=submission.proof if submission.proof is not None else submission.code,
            code=run.code if run is not None else None,
            target=item.verdict.target,
            environment=submission.environment,
            declarations_used=used,
            axioms=list(item.verdict.axioms),
            pins=item.verdict.pins,
            steps=len(steps),
            note=note if note is not None else (run.note if run is not None else None),
        )
    )
    return records


async def _one(
    item: Pending,
    source: StepSource,
    options: ExtractOptions,
    summary: ExtractSummary,
    on_checked: Callable[[CheckedItem], None] | None,
) -> list[str]:
    """The lines `item` contributes (maybe none)."""
    verdict = item.verdict
    run: TacticSteps | None = None
    if verdict is None:
        try:
            verdict, run = await source.check(
                item.submission, include_unverified=options.include_unverified
            )
        except SubmissionError as exc:
            summary.skipped.append(f"line {item.line} ({item.id}): {exc}")
            return []
    checked = CheckedItem(item.id, item.line, item.submission, verdict)
    if item.verdict is None and on_checked is not None:
        on_checked(checked)
    summary.outcomes[verdict.status.value] += 1
    if verdict.status is not VerdictStatus.proved and not options.include_unverified:
        return []
    note: str | None = None
    if verdict.status in _NOT_RUN:
        run, note = None, f"no steps: Lean did not run it to an answer ({verdict.status.value})"
    elif item.verdict is not None:  # a signed record's verdict: only its steps are asked for
        try:
            run = await source.steps(item.submission)
        except SubmissionError as exc:
            note = f"not run: {exc}"
    elif run is None:  # not expected: the source computes steps for every verdict asked for
        note = "no steps: the backend gave none"
    records = records_for(checked, run, note)
    summary.extracted += 1
    summary.steps += len(records) - 1
    return [record.model_dump_json() for record in records]


async def run_extract(
    items: Sequence[Pending],
    out: IO[str],
    *,
    source: StepSource,
    options: ExtractOptions,
    on_checked: Callable[[CheckedItem], None] | None = None,
) -> ExtractSummary:
    """Write the records of `items` to `out`, in the items' order, `options.jobs` items at once,
    each checked (and its steps listed) by `source`. `on_checked` sees each verdict computed here
    (to sign it). An error that stops the backend (`NotReady`, `Busy`, an unreachable server)
    propagates, the records written so far kept."""
    summary = ExtractSummary(items=len(items))
    queue = iter(enumerate(items))  # shared by the workers: each takes the next item
    done: dict[int, list[str]] = {}
    written = 0

    async def worker() -> None:
        nonlocal written
        for index, item in queue:
            done[index] = await _one(item, source, options, summary, on_checked)
            while written in done:  # flush the finished prefix: the output keeps the input order
                for line in done.pop(written):
                    out.write(line + "\n")
                written += 1

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, options.jobs))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return summary
