"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from proofgate.config import Settings
from proofgate.service import CheckerService

__all__ = ["KeyName", "get_app_settings", "get_key_name", "get_service"]


# `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def get_service(request: Request) -> CheckerService:
    return request.app.state.service


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_key_name(request: Request) -> str | None:
    """The name of the API key the key middleware admitted; None when the request used none."""
    name = getattr(request.state, "api_key", None)
    return str(name) if name else None


#: A route's parameter for the caller's key: what sessions and jobs belong to.
KeyName = Annotated[str | None, Depends(get_key_name)]
