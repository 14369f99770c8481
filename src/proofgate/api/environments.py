"""`GET /v1/environments`: the pinned Lean environments a submission may name, each with whether a
request for it is served now (its toolchain, Mathlib, REPL and checker), and the same per-environment
readiness for `/readyz`'s body."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from proofgate.api.deps import Service
from proofgate.config import Settings
from proofgate.environments.readiness import EnvironmentStatus, StatusCache
from proofgate.models.http import EnvironmentInfo, EnvironmentReadiness
from proofgate.service import CheckerService

__all__ = ["readiness_by_environment", "router"]

router = APIRouter(prefix="/v1", tags=["environments"])


def _statuses(request: Request, service: CheckerService) -> dict[str, EnvironmentStatus] | None:
    """Each environment's own status, from the app's `StatusCache` (None for a service without
    settings, which cannot tell). Blocking: it may run each toolchain's `lean --version`."""
    settings = getattr(service, "settings", None)
    if not isinstance(settings, Settings):
        return None
    cache = getattr(request.app.state, "environment_statuses", None)
    if not isinstance(cache, StatusCache):
        cache = request.app.state.environment_statuses = StatusCache(settings)
    names = [str(entry["name"]) for entry in service.environments()]
    return cache.statuses({name: service.environment(name) for name in names})


async def readiness_by_environment(
    request: Request, service: CheckerService
) -> dict[str, EnvironmentReadiness]:
    """What `/readyz` lists: `default` as the service decided it (its reasons), every other
    environment ready when the service is and its own Lean side is there."""
    statuses = await asyncio.to_thread(_statuses, request, service)
    if statuses is None:
        return {}
    state = service.readiness()
    readiness = {}
    for name, status in statuses.items():
        if name == "default":
            ready, problems = state.ready, list(state.reasons)
        else:
            ready, problems = state.ready and status.ready, list(status.problems)
        readiness[name] = EnvironmentReadiness(
            ready=ready,
            lean=status.lean,
            lean_found=status.lean_found,
            mathlib=status.mathlib,
            problems=problems,
        )
    return readiness


@router.get(
    "/environments",
    response_model=list[EnvironmentInfo],
    summary="Pinned environments with their versions and readiness",
)
async def list_environments(request: Request, service: Service) -> list[EnvironmentInfo]:
    described = await asyncio.to_thread(service.environments)  # reads each project's manifest
    readiness = await readiness_by_environment(request, service)
    listed = []
    for entry in described:
        info = EnvironmentInfo.model_validate(entry)
        if (ready := readiness.get(info.name)) is not None:
            info = info.model_copy(
                update={
                    "ready": ready.ready,
                    "lean_found": ready.lean_found,
                    "problems": ready.problems,
                }
            )
        listed.append(info)
    return listed
