"""`POST /v1/check`: one submission in, its verdict out (the request waits for it)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from proofgate.api.deps import Service, Tenant
from proofgate.api.errors import ERROR_RESPONSES
from proofgate.models import Submission, Verdict

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
    began = time.perf_counter()
    verdict = await service.check(submission, tenant=tenant)
    request.app.state.metrics.observe_verdict(
        verdict,
        time.perf_counter() - began,
        cache_enabled=request.app.state.settings.cache_enabled,
    )
    return verdict
