"""`Client.batch` / `AsyncClient.batch`: many submissions as one server job, streamed back.

The submissions go out in one `POST /v1/batch?stream=true`; results come back as NDJSON lines as
they finish, and a rich progress bar (on stderr) counts them. If the stream breaks after the job
exists (a dropped connection, a server restart), the client follows the job again from
`GET /v1/jobs/{id}/results?stream=true&follow=true`, up to the retry policy's attempts: a line that
arrives twice is kept once. The POST itself is never re-sent once a job may exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

import httpx
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from proofgate.client._base import ClientBase, Flow, NextLine, Sleep, error_for, send
from proofgate.exceptions import ServerError
from proofgate.models import Submission, Verdict
from proofgate.models.jobs import NDJSON, BatchRequest, BatchResult, ItemError

__all__ = ["BatchOutcome", "batch_body", "batch_flow"]

BatchOutcome = Verdict | ItemError
_HEADERS = {"Content-Type": "application/json", "Accept": NDJSON}


def batch_body(submissions: Iterable[Submission | Mapping[str, Any]]) -> tuple[bytes, int]:
    """The request body and its item count. A mapping may carry an `id`, echoed in its result."""
    items: list[Any] = []
    for submission in submissions:
        if isinstance(submission, Submission):
            items.append(submission.model_dump(mode="json", exclude_none=True))
        else:
            items.append(dict(submission))
    if not items:
        return b"", 0
    return BatchRequest(items=items).model_dump_json().encode("utf-8"), len(items)


class _Collector:
    """Results by index; each index counted once however often it arrives."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.results: dict[int, BatchOutcome] = {}

    def add(self, line: str) -> bool:
        """Take one NDJSON line; True if it was a new result."""
        if not line.strip():
            return False
        try:
            result = BatchResult.model_validate_json(line)
            outcome = result.outcome
        except (ValidationError, ValueError) as exc:
            raise ServerError(f"unreadable batch result line {line[:200]!r}: {exc}") from exc
        if result.index >= self.total:
            raise ServerError(f"the server sent a result for item {result.index} of {self.total}")
        if result.index in self.results:
            return False
        self.results[result.index] = outcome
        return True

    @property
    def complete(self) -> bool:
        return len(self.results) >= self.total

    def ordered(self) -> list[BatchOutcome]:
        return [self.results[index] for index in range(self.total)]


def _progress(enabled: bool, total: int) -> Progress:
    return Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def _follow_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/results?stream=true&follow=true"


def _job_id(response: httpx.Response) -> str:
    job_id = response.headers.get("x-job-id")
    if not job_id:
        raise ServerError("the server started a batch without saying its job id (X-Job-ID)")
    return str(job_id)


def batch_flow(
    client: ClientBase, submissions: Iterable[Submission | Mapping[str, Any]], *, progress: bool
) -> Flow[list[BatchOutcome]]:
    body, total = batch_body(submissions)
    if total == 0:
        return []
    collected = _Collector(total)
    job_id: str | None = None
    reattached = 0
    bar = _progress(progress, total)
    with bar if progress else nullcontext():
        task = bar.add_task("batch", total=total)
        while not collected.complete:
            try:
                if job_id is None:
                    opened = _open(client, "POST", "/v1/batch", content=body, headers=_HEADERS)
                else:
                    opened = _open(client, "GET", _follow_path(job_id))
                response = yield from opened
                job_id = job_id or _job_id(response)
                while (line := (yield NextLine())) is not None:
                    if collected.add(line):
                        bar.update(task, completed=len(collected.results))
            except (httpx.HTTPError, ServerError) as exc:
                if job_id is None or reattached >= client.retry.attempts:
                    if isinstance(exc, ServerError):
                        raise
                    raise ServerError(
                        f"the batch stream from {client.base_url} broke: {exc}"
                    ) from exc
            if not collected.complete:
                reattached += 1
                if reattached > client.retry.attempts:
                    raise ServerError(
                        f"job {job_id} ended with {len(collected.results)} of {total} results; "
                        f"see GET /v1/jobs/{job_id}"
                    )
                yield Sleep(client.retry.delay(reattached, None))
    return collected.ordered()


def _open(client: ClientBase, method: str, path: str, **options: Any) -> Flow[httpx.Response]:
    """A streamed 200 answer, retrying 429/503 as every call does; other answers raise."""
    response = yield from send(client, method, path, stream=True, **options)
    if response.status_code != 200:
        raise error_for(response)
    return response
