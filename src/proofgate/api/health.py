"""Liveness and readiness probes, and the store's watch: each tick, whether its file is still the
one the app opened (a deleted or replaced file makes `/readyz` 503 with the reason). `/readyz`
follows the `default` environment and lists every environment's own readiness in its body."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from proofgate.api.deps import Service
from proofgate.api.environments import readiness_by_environment
from proofgate.api.metrics import pool_stats_mapping
from proofgate.api.server import TICK_SECONDS
from proofgate.logs import get_logger
from proofgate.models.http import ReadinessReport
from proofgate.service import CheckerService
from proofgate.ticks import sleep_on_grid

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


def store_problems(app: FastAPI) -> list[str]:
    """Why the app's store can no longer take writes (its file deleted or replaced), if it can't.

    The job store's file is the one every table lives in, and is open whenever the app is."""
    runner = getattr(app.state, "jobs", None)
    watched = getattr(getattr(runner, "store", None), "file", None)
    problem = watched.problem() if watched is not None else None
    return [problem] if problem else []


async def watch_store(app: FastAPI) -> None:
    """Each tick, look at the store's file; log once when it goes missing or is replaced, and once
    when the path names it again (run for the app's life, in its lifespan)."""
    reported: list[str] = []
    while True:
        await sleep_on_grid(TICK_SECONDS)
        problems = store_problems(app)
        if problems != reported:
            if problems:
                _log.error("store_file_changed", reason=problems[0])
            else:
                _log.info("store_file_restored")
            reported = problems


@router.get(
    "/readyz",
    summary="The service can verify proofs now (toolchain, sandbox, pool)",
    response_model=ReadinessReport,
    responses={503: {"model": ReadinessReport, "description": "Not ready; `reasons` say why."}},
)
async def readyz(request: Request, service: Service) -> JSONResponse:
    state = service.readiness()
    store = store_problems(request.app)
    report = ReadinessReport(
        ready=state.ready and not store,
        reasons=[*state.reasons, *store],
        sandbox=state.sandbox,
        pool={**state.pool, **_live_pool(service)},
        environments=await readiness_by_environment(request, service),
    )
    body = report.model_dump(mode="json")
    if report.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
