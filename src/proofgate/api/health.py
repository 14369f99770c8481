"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from proofgate.api.deps import get_service
from proofgate.api.metrics import pool_stats_mapping
from proofgate.logs import get_logger
from proofgate.models.http import ReadinessReport
from proofgate.service import CheckerService

router = APIRouter(tags=["health"])

_log = get_logger("proofgate.health")


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _live_pool(service: CheckerService) -> dict[str, object]:
    """The pool's numbers now, when the service can tell them (else the readiness snapshot's)."""
    reader = getattr(service, "pool_stats", None)
    if not callable(reader):
        return {}
    try:
        return pool_stats_mapping(reader())
    except Exception as exc:  # a probe must answer even when the pool cannot
        _log.warning("pool_stats failed", error=repr(exc))
        return {"error": f"pool state unavailable: {exc}"}


@router.get(
    "/readyz",
    summary="The service can verify proofs now (toolchain, sandbox, pool)",
    response_model=ReadinessReport,
    responses={503: {"model": ReadinessReport, "description": "Not ready; `reasons` say why."}},
)
async def readyz(service: CheckerService = Depends(get_service)) -> JSONResponse:
    state = service.readiness()
    report = ReadinessReport(
        ready=state.ready,
        reasons=list(state.reasons),
        sandbox=state.sandbox,
        pool={**state.pool, **_live_pool(service)},
    )
    body = report.model_dump(mode="json")
    if state.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
