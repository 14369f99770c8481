"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from proofgate.api.deps import get_service
from proofgate.service import CheckerService

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The service can verify proofs now")
async def readyz(service: CheckerService = Depends(get_service)) -> JSONResponse:
    state = service.readiness()
    body = {"ready": state.ready, "reasons": state.reasons, "sandbox": state.sandbox, "pool": state.pool}
    if state.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
