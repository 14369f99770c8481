"""`POST /v1/rewards`: a locked statement and a group of raw completions in, one reward record each.

Each completion counts against the API key's rate as a submission (as a batch item does); every
check runs for the caller's tenant through the service's `check`. The records come back in order
as one JSON body, or with `?stream=true` / `Accept: application/x-ndjson` one NDJSON line each as
its check finishes.

`POST /v1/rewards/openrlhf` is the same for OpenRLHF's `--reward.remote_url`, which posts one
sample a request: concurrent requests for one label (the statement) are coalesced into a group.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import State

from proofgate.api.deps import Service, Tenant, charge_submissions
from proofgate.api.errors import ERROR_RESPONSES, limit_items
from proofgate.api.metrics import Metrics
from proofgate.api.ndjson import StreamOption, ndjson_response, streamed_responses, wants_ndjson
from proofgate.config import Settings
from proofgate.exceptions import SubmissionError
from proofgate.models.check import EnvironmentName
from proofgate.models.rewards import RewardRecord, RewardRequest, RewardResponse
from proofgate.rewards import Group, RewardScale
from proofgate.rewards.coalesce import Coalescer
from proofgate.rewards.log import RewardLog
from proofgate.rewards.openrlhf import (
    OpenRLHFRequest,
    OpenRLHFResponse,
    openrlhf_response,
    strip_prompt,
)
from proofgate.service import CheckerService

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["rewards"], responses=ERROR_RESPONSES)


def _check_environment(service: CheckerService, name: str) -> None:
    """An unknown environment is the request's fault (422) before anything runs; a service
    without `environment` (a test's stand-in) leaves it to each check."""
    environment = getattr(service, "environment", None)
    if callable(environment):
        environment(name)  # raises SubmissionError naming the known ones


def _scored(
    group: Group,
    service: CheckerService,
    app: State,
    *,
    tenant: str,
    raise_not_ready: bool,
    route: str,
) -> AsyncIterator[RewardRecord]:
    """The group's records as each check finishes, run as the app's settings say, every verdict
    and record counted in its metrics and, once the group is done, written to the app's reward
    log (PROOFGATE_REWARD_LOG) under `route` (both reward routes score a group this way)."""
    settings: Settings = app.settings
    metrics: Metrics = app.metrics

    records = group.records(
        service,
        tenant=tenant,
        scale=RewardScale.from_options(group.request.reward, settings),
        concurrency=settings.batch_items_at_once,
        busy_wait=settings.queue_wait,
        raise_not_ready=raise_not_ready,
        on_verdict=metrics.observe_verdict,
    )
    environment = group.request.environment

    log: RewardLog | None = getattr(app, "reward_log", None)

    async def counted() -> AsyncIterator[RewardRecord]:
        done = []
        async for record in records:
            metrics.observe_reward(environment, record.status.value, record.cheat)
            done.append(record)
            yield record
        if log is not None:
            done.sort(key=lambda record: record.index)
            statement = group.request.statement
            await asyncio.to_thread(
                log.write, done, statement, adapter=f"server:{route}", environment=environment
            )

    return counted()


async def _in_order(records: AsyncIterator[RewardRecord]) -> list[RewardRecord]:
    """A group's records once all are done, in completion order (they arrive as checks finish)."""
    return sorted([record async for record in records], key=lambda record: record.index)


@router.post(
    "/rewards",
    response_model=RewardResponse,
    summary="Reward a group of completions for one statement",
    description=(
        "Reads each completion (reasoning stripped, its last fenced Lean block: a proof body or "
        "a restated theorem), checks it against the locked statement and answers one record per "
        "completion, in order: `reward` (null with `retry: true` for timeout, out_of_memory, "
        "internal), `status` (a verdict status or `no_proof`), `cheat`, ... Identical "
        "completions are checked once. With `?stream=true` / `Accept: application/x-ndjson`, one "
        "record a line as each finishes. More completions than PROOFGATE_MAX_BATCH_ITEMS: 413."
    ),
    responses=streamed_responses(
        "The records (JSON, or NDJSON lines).", "Too many completions, or the body is too large."
    ),
)
async def rewards(
    body: RewardRequest,
    request: Request,
    tenant: Tenant,
    service: Service,
    stream: StreamOption = False,
) -> Response:
    limit_items(request, len(body.completions), "completions")
    _check_environment(service, body.environment)
    group = await Group.prepare(body)  # a malformed statement: SubmissionError, 422
    charge_submissions(request, len(body.completions))
    streaming = wants_ndjson(request, stream)
    records = _scored(
        group,
        service,
        request.app.state,
        tenant=tenant,
        raise_not_ready=not streaming,
        route="/v1/rewards",
    )
    if streaming:
        return ndjson_response(record.model_dump_json() async for record in records)
    collected = await _in_order(records)
    counts: dict[str, int] = {}
    cheats: dict[str, int] = {}
    for record in collected:
        counts[record.status.value] = counts.get(record.status.value, 0) + 1
        if record.cheat is not None:
            cheats[record.cheat] = cheats.get(record.cheat, 0) + 1
    answer = RewardResponse(records=collected, counts=counts, cheats=cheats)
    return JSONResponse(answer.model_dump(mode="json"))


#: A coalesced group's key: the tenant, the statement, the environment.
_GroupKey = tuple[str, str, str]


def _coalescer(request: Request, service: CheckerService) -> Coalescer[_GroupKey]:
    """The app's coalescer of OpenRLHF samples, made on first use (it lives as long as the app)."""
    state = request.app.state
    coalescer: Coalescer[_GroupKey] | None = getattr(state, "openrlhf_coalescer", None)
    if coalescer is not None:
        return coalescer

    async def flush(key: _GroupKey, completions: Sequence[str]) -> list[RewardRecord]:
        tenant, statement, environment = key
        try:
            body = RewardRequest(
                statement=statement, completions=list(completions), environment=environment
            )
        except ValidationError as exc:  # a response past the size a completion may have, say
            first = exc.errors()[0]
            where = "query" if first["loc"][:1] == ("completions",) else "labels"
            raise SubmissionError(f"{where}: {first['msg']}", field=where) from exc
        group = await Group.prepare(body)
        records = _scored(
            group, service, state, tenant=tenant, raise_not_ready=True, route="/v1/rewards/openrlhf"
        )
        return await _in_order(records)

    coalescer = Coalescer(flush)
    state.openrlhf_coalescer = coalescer
    return coalescer


@router.post(
    "/rewards/openrlhf",
    response_model=OpenRLHFResponse,
    summary="Rewards for OpenRLHF's --reward.remote_url",
    description=(
        "OpenRLHF's remote reward shape: `query` (prompt and response decoded together), "
        "`prompts` and `labels` (the locked statements), one value each, in step. The response "
        "is what follows the prompt in its query. Concurrent requests for one label are checked "
        "as one group: up to `group_size` samples (OpenRLHF's n_samples_per_prompt), or what "
        "arrived within `wait` seconds of the first. Answers `rewards` and `scores` (a check "
        "that did not finish scores 0) and `extra_logs` (proofgate_proved, proofgate_cheat, "
        "proofgate_no_proof, proofgate_retry), one value per query."
    ),
)
async def openrlhf_rewards(
    body: OpenRLHFRequest,
    request: Request,
    tenant: Tenant,
    service: Service,
    environment: EnvironmentName = Query("default", description="The environment to check in."),
    group_size: int | None = Query(
        None, ge=1, le=4096, description="Score a label's group once it has this many samples."
    ),
    wait: float = Query(
        0.05, ge=0, le=30, description="Seconds a group waits for more samples after its first."
    ),
) -> Response:
    count = len(body.query)
    if len(body.prompts) != count or len(body.labels) != count:
        raise SubmissionError(
            f"query, prompts and labels must be as long as each other (they are {count}, "
            f"{len(body.prompts)} and {len(body.labels)})",
            field="labels",
        )
    limit_items(request, count, "queries")
    _check_environment(service, environment)
    charge_submissions(request, count)
    coalescer = _coalescer(request, service)
    records = await asyncio.gather(
        *(
            coalescer.submit(
                (tenant, label, environment),
                strip_prompt(query, prompt),
                group_size=group_size,
                linger=wait,
            )
            for query, prompt, label in zip(body.query, body.prompts, body.labels, strict=True)
        )
    )
    return JSONResponse(openrlhf_response(records))
