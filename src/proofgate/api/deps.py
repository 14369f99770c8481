"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from proofgate.config import Settings
from proofgate.service import CheckerService


# `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def get_service(request: Request) -> CheckerService:
    return request.app.state.service


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings
