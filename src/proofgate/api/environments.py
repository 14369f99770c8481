"""`GET /v1/environments`: the pinned Lean environments a submission may name."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from proofgate.api.deps import Service
from proofgate.models.http import EnvironmentInfo

router = APIRouter(prefix="/v1", tags=["environments"])


@router.get(
    "/environments",
    response_model=list[EnvironmentInfo],
    summary="Pinned environments with their versions",
)
async def list_environments(service: Service) -> list[EnvironmentInfo]:
    described = await asyncio.to_thread(service.environments)  # reads each project's manifest
    return [EnvironmentInfo.model_validate(entry) for entry in described]
