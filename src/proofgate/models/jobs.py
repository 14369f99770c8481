"""Wire models of batch jobs: the request, one result line, the job's report.

Plain pydantic (no FastAPI import), so the Python client shares them with the server. A result line
of the NDJSON stream is `{"index": 3, "id": "p3", "verdict": {...}}` or
`{"index": 4, "error": {"error": "validation", "message": "...", "detail": [...]}}`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proofgate.models.check import Submission, Verdict
from proofgate.models.http import ValidationIssue

__all__ = [
    "NDJSON",
    "BatchRequest",
    "BatchResult",
    "FailureExample",
    "FailurePattern",
    "ItemError",
    "JobCounts",
    "JobFailures",
    "JobItem",
    "JobPage",
    "JobReport",
    "JobStatus",
    "parse_item",
    "timestamp",
]

NDJSON = "application/x-ndjson"


class JobStatus(str, Enum):
    """Where a batch job is: waiting, being worked through, or ended (see `JobReport.reason`)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


_MAX_ID_CHARS = 256


class BatchRequest(BaseModel):
    """`POST /v1/batch`: the submissions, each checked on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[Any] = Field(
        description="Each item is a Submission's fields plus an optional `id` (a string echoed "
        "back in its result). An invalid item becomes an error entry; it never fails the batch.",
        min_length=1,
    )


class ItemError(BaseModel):
    """Why one item has no verdict: `validation` (its fields), `submission`, `not_ready`,
    `internal` (proofgate's fault) or `job_failed` (the job stopped before it ran)."""

    error: str
    message: str
    detail: list[ValidationIssue] | None = None


class BatchResult(BaseModel):
    """One line of a job's results: a verdict or an error, for the item at `index`."""

    index: int = Field(ge=0)
    id: str | None = None
    verdict: Verdict | None = None
    error: ItemError | None = None

    @property
    def outcome(self) -> Verdict | ItemError:
        if self.verdict is not None:
            return self.verdict
        if self.error is not None:
            return self.error
        raise ValueError(f"result {self.index} has neither a verdict nor an error")


class JobCounts(BaseModel):
    """How far a job is: `done` = verdicts + errors; `by_status` counts verdicts by status."""

    total: int
    done: int
    pending: int
    errors: int
    by_status: dict[str, int] = Field(default_factory=dict)


class JobReport(BaseModel):
    """`GET /v1/jobs/{id}` (and the answer to a non-streaming `POST /v1/batch`, 202)."""

    id: str
    status: JobStatus
    reason: str = Field("", description="Why it failed, or that it was resumed after a restart.")
    counts: JobCounts
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    resumed: int = Field(0, description="Times a server restart interrupted and resumed it.")
    results_url: str = Field(description="Where its results are (JSON list or NDJSON).")


class JobPage(BaseModel):
    """`GET /v1/jobs`: the caller's jobs, newest first, one page of them."""

    jobs: list[JobReport]
    next_offset: int | None = Field(
        None, description="The `offset` of the next page; null when this page is the last."
    )


class JobItem(BaseModel):
    """`GET /v1/jobs/{id}/items/{index}`: one item as submitted, with its result once it has one."""

    index: int = Field(ge=0)
    id: str | None = None
    submission: Submission | None = Field(
        None, description="What was checked; null for an item that was invalid as sent."
    )
    result: BatchResult | None = Field(None, description="Null while the item is pending.")


class FailureExample(BaseModel):
    """An item a failure pattern was seen in (`item` is its index, as text) and what it said."""

    item: str
    text: str


class FailurePattern(BaseModel):
    """Messages that read alike once names and numbers are blanked (`reports.failures`)."""

    pattern: str
    category: str
    count: int
    examples: list[FailureExample] = Field(default_factory=list)


class JobFailures(BaseModel):
    """`GET /v1/jobs/{id}/failures`: the failure-mode report of a job's finished items."""

    total: int = Field(description="Finished items the report was made from.")
    verdicts: int
    cached: int
    outcomes: dict[str, int] = Field(description="Items by verdict status, or `error:KIND`.")
    categories: dict[str, int] = Field(description="Items with an error of each category.")
    messages: list[FailurePattern]
    item_errors: list[FailurePattern]
    cheats: dict[str, dict[str, int]] = Field(
        description="What was caught, by class (policy rules, axioms, mismatches, sorry)."
    )
    cheats_caught: int
    median_seconds: dict[str, float] = Field(description="Median check time by verdict status.")
    stage_ms: dict[str, float] = Field(description="Mean milliseconds per stage of a check run.")


@overload
def timestamp(seconds: float) -> datetime: ...
@overload
def timestamp(seconds: None) -> None: ...
@overload
def timestamp(seconds: float | None) -> datetime | None: ...
def timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def _issues(exc: ValidationError, prefix: list[str | int]) -> list[ValidationIssue]:
    return [
        ValidationIssue(
            loc=[*prefix, *(p if isinstance(p, int) else str(p) for p in raw.get("loc", ()))],
            msg=str(raw.get("msg", "invalid")),
            type=str(raw.get("type", "invalid")),
        )
        for raw in exc.errors()
    ]


def parse_item(index: int, raw: object) -> tuple[str | None, Submission | None, ItemError | None]:
    """One batch item as (its id, the submission) or (its id, the error that stands for it)."""
    where: list[str | int] = ["body", "items", index]
    if not isinstance(raw, dict):
        issue = ValidationIssue(loc=where, msg="an item must be a JSON object", type="dict_type")
        return None, None, ItemError(error="validation", message=issue.msg, detail=[issue])
    fields = dict(raw)
    client_id = fields.pop("id", None)
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > _MAX_ID_CHARS):
        issue = ValidationIssue(
            loc=[*where, "id"],
            msg=f"`id` must be a string of at most {_MAX_ID_CHARS} characters",
            type="id",
        )
        return None, None, ItemError(error="validation", message=issue.msg, detail=[issue])
    try:
        submission = Submission.model_validate(fields)
    except ValidationError as exc:
        issues = _issues(exc, where)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in issue.loc[3:]) or 'item'}: {issue.msg}"
            for issue in issues[:5]
        )
        return (
            client_id,
            None,
            ItemError(
                error="validation", message=f"invalid item {index}: {summary}", detail=issues
            ),
        )
    return client_id, submission, None
