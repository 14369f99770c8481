"""`POST /v1/check`: one submission in, its verdict out (the request waits for it); and
`POST /v1/check/steps`: the verdict and the proof's tactic steps (`proofgate extract`'s data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from proofgate.api.deps import Service, Tenant
from proofgate.api.errors import ERROR_RESPONSES
from proofgate.api.metrics import Metrics
from proofgate.models import Submission, Verdict
from proofgate.models.steps import CheckStepsResponse

router = APIRouter(prefix="/v1", tags=["check"], responses=ERROR_RESPONSES)


@router.post(
    "/check",
    response_model=Verdict,
    summary="Check one submission",
    description=(
        "A free compile (`code` alone) or a locked check (`statement` with `code` or `proof`). "
        "Everything the submission caused is a verdict (200), including `rejected` by policy; "
        "503 with Retry-After means the service cannot verify now."
    ),
)
async def check(
    submission: Submission,
    request: Request,
    tenant: Tenant,
    service: Service,
) -> Verdict:
    metrics: Metrics = request.app.state.metrics
    return await metrics.timed(service.check(submission, tenant=tenant))


@router.post(
    "/check/steps",
    response_model=CheckStepsResponse,
    summary="Check one submission and list its tactic steps",
    description=(
        "`/v1/check`, and the proof's tactic steps (what `proofgate extract` writes as step "
        "records): each step Lean's REPL lists with `allTactics` (the tactic, where it stands, "
        "the goals before it, the constants it used), run again in its proof state for the goals "
        "after it and its time. The steps come for a `proved` verdict, and with "
        "`include_unverified=true` for any verdict Lean ran to an answer; otherwise `steps` is "
        "null. The steps never decide the verdict. 503 with Retry-After means the service cannot "
        "verify now."
    ),
)
async def check_steps(
    submission: Submission,
    request: Request,
    tenant: Tenant,
    service: Service,
    include_unverified: Annotated[
        bool,
        Query(description="Steps for any verdict Lean ran to an answer, not only `proved`."),
    ] = False,
) -> CheckStepsResponse:
    metrics: Metrics = request.app.state.metrics
    verdict, steps = await metrics.timed_with(
        service.check_with_tactics(submission, tenant=tenant, include_unverified=include_unverified)
    )
    return CheckStepsResponse(verdict=verdict, steps=steps)
