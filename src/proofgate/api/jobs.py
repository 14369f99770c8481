"""`POST /v1/batch`, `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/results`: many submissions as a job.

The job is stored before the answer goes out (202 with its report, or 200 streaming NDJSON as items
finish); a client that drops the stream can follow it again from `/v1/jobs/{id}/results`. A job
made under an API key is visible to that key only (404 to others).
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from proofgate.api.deps import KeyName, Tenant, charge_submissions
from proofgate.api.errors import ERROR_RESPONSES, limit_items
from proofgate.api.metrics import Metrics
from proofgate.api.ndjson import StreamOption, ndjson_response, streamed_responses, wants_ndjson
from proofgate.config import Settings
from proofgate.exceptions import JobNotFound
from proofgate.jobs import JobRunner
from proofgate.models import Submission, Verdict
from proofgate.models.http import ErrorBody
from proofgate.models.jobs import (
    NDJSON,
    BatchRequest,
    BatchResult,
    JobFailures,
    JobItem,
    JobPage,
    JobReport,
    parse_item,
    timestamp,
)
from proofgate.reports.job_failures import job_failures
from proofgate.store.jobs import JobRecord, JobStore, PreparedItem
from proofgate.store.keys import KeyStore

__all__ = ["router", "start_jobs", "stop_jobs"]

router = APIRouter(prefix="/v1", tags=["batch"], responses=ERROR_RESPONSES)

JobId = Path(pattern=r"^[0-9a-f]{32}$", description="The job's id, as `POST /v1/batch` gave it.")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such job (for this API key)."}
}


async def get_runner(request: Request) -> JobRunner:
    return request.app.state.jobs


#: A route's parameter for the app's job runner.
Runner = Annotated[JobRunner, Depends(get_runner)]


def _no_job(job_id: str) -> JobNotFound:
    return JobNotFound(
        f"no job {job_id!r}: check the id (a job is visible only to the API key that made it)"
    )


async def _report(runner: JobRunner, job: JobRecord) -> JobReport:
    counts = await runner.store.counts(job)
    fresh = await runner.store.job(job.id) or job
    return JobReport(
        id=fresh.id,
        status=fresh.status,
        reason=fresh.reason,
        counts=counts,
        created_at=timestamp(fresh.created_at),
        started_at=timestamp(fresh.started_at),
        finished_at=timestamp(fresh.finished_at),
        resumed=fresh.resumed,
        results_url=f"/v1/jobs/{fresh.id}/results",
    )


async def _visible_job(
    key: KeyName, tenant: Tenant, runner: Runner, job_id: str = JobId
) -> JobRecord:
    """The job in the path if it is the caller's tenant's (one made before jobs had tenants: its
    key name's); else `JobNotFound` (404): another's job is not there for this caller."""
    job = await runner.store.job(job_id)
    if job is not None and (
        job.tenant == tenant or (key is not None and job.tenant == f"legacy-key:{key}")
    ):
        return job
    raise _no_job(job_id)


#: A route's parameter for the caller's job named in the path.
VisibleJob = Annotated[JobRecord, Depends(_visible_job)]


@router.post(
    "/batch",
    status_code=202,
    response_model=JobReport,
    summary="Check many submissions as one job",
    description=(
        "Returns the job at once (202), or with `?stream=true` / `Accept: application/x-ndjson` "
        'streams one line per item as it finishes: `{"index", "id"?, "verdict"}` or '
        '`{"index", "error"}`. An invalid item is an error line, never a failed batch. '
        "More items than PROOFGATE_MAX_BATCH_ITEMS: 413."
    ),
    responses=streamed_responses(
        "The results as NDJSON, as they finish.", "Too many items, or the body is too large."
    ),
)
async def create_batch(
    body: BatchRequest,
    request: Request,
    key: KeyName,
    tenant: Tenant,
    runner: Runner,
    stream: StreamOption = False,
) -> Response:
    limit_items(request, len(body.items), "items")
    items = []
    for index, raw in enumerate(body.items):
        client_id, submission, error = parse_item(index, raw)
        items.append(PreparedItem(client_id, submission, error))
    charge_submissions(request, len(items))
    job = await runner.submit(items, key_name=key, tenant=tenant)
    request.app.state.metrics.observe_job_created()
    headers = {"Location": f"/v1/jobs/{job.id}", "X-Job-ID": job.id}
    if wants_ndjson(request, stream):
        return ndjson_response(runner.stream(job.id), headers=headers)
    report = await _report(runner, job)
    return JSONResponse(report.model_dump(mode="json"), status_code=202, headers=headers)


@router.get(
    "/jobs/{job_id}",
    response_model=JobReport,
    summary="A job's status and counts",
    responses=_NOT_FOUND,
)
async def get_job(runner: Runner, job: VisibleJob) -> Response:
    return JSONResponse((await _report(runner, job)).model_dump(mode="json"))


@router.get(
    "/jobs/{job_id}/results",
    summary="A job's results, by index",
    description=(
        "Finished items with `offset <= index < offset + limit`, in index order: a JSON list, or "
        "NDJSON with `?stream=true` / `Accept: application/x-ndjson`. With NDJSON, `follow=true` "
        "keeps the stream open and adds each remaining item as it finishes."
    ),
    response_class=Response,
    responses={
        200: {"model": list[BatchResult], "content": {NDJSON: {}}},
        **_NOT_FOUND,
    },
)
async def get_results(
    request: Request,
    runner: Runner,
    job: VisibleJob,
    offset: int = Query(0, ge=0),
    limit: int | None = Query(None, ge=1, le=1_000_000, description="Default: all (1000 as JSON)."),
    stream: StreamOption = False,
    follow: bool = Query(False, description="NDJSON only: wait for the unfinished items."),
) -> Response:
    if wants_ndjson(request, stream):
        return ndjson_response(runner.stream(job.id, offset=offset, limit=limit, follow=follow))
    collected = [
        line
        async for line in runner.stream(job.id, offset=offset, limit=limit or 1000, follow=False)
    ]
    return Response("[" + ",".join(collected) + "]", media_type="application/json")


# --- the caller's jobs, one item, a job's failure report (what the web console reads) ---------


@router.get(
    "/jobs",
    response_model=JobPage,
    summary="The caller's jobs, newest first",
    description=(
        "Only the jobs made under the key the request carries (without a key: only the jobs made "
        "without one), `limit` at a time from `offset`."
    ),
)
async def list_jobs(
    key: KeyName,
    tenant: Tenant,
    runner: Runner,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(20, ge=1, le=100),
) -> Response:
    tenants = [tenant] if key is None else [tenant, f"legacy-key:{key}"]
    found = await runner.store.jobs_of(tenants, offset=offset, limit=limit + 1)
    page = JobPage(
        jobs=[await _report(runner, job) for job in found[:limit]],
        next_offset=offset + limit if len(found) > limit else None,
    )
    return JSONResponse(page.model_dump(mode="json"))


@router.get(
    "/jobs/{job_id}/items/{index}",
    response_model=JobItem,
    summary="One item of a job: what was submitted, and its result",
    responses=_NOT_FOUND,
)
async def get_item(
    runner: Runner,
    job: VisibleJob,
    index: int = Path(ge=0, le=10_000_000, description="The item's index in the batch."),
) -> Response:
    stored = await runner.store.item(job.id, index)
    if stored is None:
        raise _no_job(f"{job.id}/items/{index}")
    client_id, submission, line = stored
    item = JobItem(
        index=index,
        id=client_id,
        submission=None if submission is None else Submission.model_validate_json(submission),
        result=BatchResult.model_validate_json(line) if line else None,
    )
    return JSONResponse(item.model_dump(mode="json", exclude_none=True))


@router.get(
    "/jobs/{job_id}/failures",
    response_model=JobFailures,
    summary="A job's failure-mode report (of the items finished so far)",
    responses=_NOT_FOUND,
)
async def get_failures(runner: Runner, job: VisibleJob) -> Response:
    lines = runner.stream(job.id, offset=0, limit=job.total, follow=False)
    results = [BatchResult.model_validate_json(line) async for line in lines]
    return JSONResponse(job_failures(results).model_dump(mode="json"))


class Checker(Protocol):
    """What the runner checks items with: `CheckerService`, or a stand-in with its `check`."""

    async def check(self, submission: Submission, *, tenant: str) -> Verdict: ...


async def start_jobs(app: FastAPI, settings: Settings, service: Checker) -> JobRunner:
    """Open the job store and start the runner on `service.check` (call in the lifespan)."""
    store = JobStore(settings.cache_path)
    await store.open()
    metrics: Metrics = app.state.metrics

    async def checked(submission: Submission, tenant: str) -> Verdict:
        return await metrics.timed(service.check(submission, tenant=tenant))

    keys: KeyStore = app.state.keys

    def key_limit(name: str) -> int | None:
        for key in keys.keys():  # noqa: SIM118 - a KeyStore, not a dict: keys() rereads the file
            if key.name == name:
                return key.concurrency
        return None

    runner = JobRunner(
        store,
        checked,
        concurrency=settings.batch_items_at_once,
        key_limit=key_limit,
        resume=settings.resume_jobs,
        on_item=metrics.observe_batch_item,
    )
    await runner.start()
    app.state.jobs = runner
    if not getattr(app.state, "jobs_watched", False):  # one collector, whichever runner is live
        app.state.jobs_watched = True
        metrics.watch_jobs(lambda: app.state.jobs.stats() if app.state.jobs else {})
    return runner


async def stop_jobs(app: FastAPI) -> None:
    """Stop the runner (pending items stay stored) and close the job store."""
    runner: JobRunner | None = getattr(app.state, "jobs", None)
    if runner is not None:
        await runner.stop()
        await runner.store.close()
        app.state.jobs = None
