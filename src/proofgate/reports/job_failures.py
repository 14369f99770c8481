"""A batch job's failure-mode report as data: its result lines read as batch records, analysed by
`reports.failures` (the console draws the charts itself, so no plotting library is needed)."""

from __future__ import annotations

from typing import Literal

from proofgate.batch.input import BatchRecord
from proofgate.batch.input import ItemError as RecordError
from proofgate.models.jobs import (
    BatchResult,
    FailureExample,
    FailurePattern,
    JobFailures,
)
from proofgate.reports.failures import MessageGroup, analyse_records, percentile

__all__ = ["job_failures"]

#: Item errors a submitter can fix; the others (`not_ready`, `internal`, `job_failed`) are ours.
_SUBMISSION_ERRORS = frozenset({"validation", "submission"})


def _record(result: BatchResult) -> BatchRecord:
    """A job's result as a batch record whose id is the item's index (the console links by it)."""
    item = str(result.index)
    if result.error is None:
        return BatchRecord(id=item, line=result.index + 1, verdict=result.verdict)
    kind: Literal["submission", "infrastructure"] = (
        "submission" if result.error.error in _SUBMISSION_ERRORS else "infrastructure"
    )
    error = RecordError(kind=kind, line=result.index + 1, message=result.error.message)
    return BatchRecord(id=item, line=result.index + 1, error=error)


def _patterns(groups: list[MessageGroup]) -> list[FailurePattern]:
    return [
        FailurePattern(
            pattern=group.pattern,
            category=group.category,
            count=group.count,
            examples=[FailureExample(item=item, text=text) for item, text in group.examples],
        )
        for group in groups
    ]


def job_failures(results: list[BatchResult], *, top: int = 15) -> JobFailures:
    """The failure-mode report of `results` (a job's finished items)."""
    summary = analyse_records([_record(result) for result in results], top=top)
    return JobFailures(
        total=summary.total,
        verdicts=summary.verdicts,
        cached=summary.cached,
        outcomes=dict(summary.outcomes.most_common()),
        categories=dict(summary.categories.most_common()),
        messages=_patterns(summary.messages),
        item_errors=_patterns(summary.item_errors),
        cheats={name: dict(found.most_common()) for name, found in summary.cheats.items()},
        cheats_caught=summary.cheats_caught(),
        median_seconds={
            status: percentile(seconds, 0.5) for status, seconds in sorted(summary.seconds.items())
        },
        stage_ms=summary.stage_ms,
    )
