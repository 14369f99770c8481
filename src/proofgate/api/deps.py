"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from proofgate.config import Settings
from proofgate.models.tenant import ANONYMOUS
from proofgate.service import CheckerService

__all__ = [
    "KeyName",
    "Service",
    "Tenant",
    "charge_submissions",
    "get_app_settings",
    "get_key_name",
    "get_service",
    "get_tenant",
]


# `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def get_service(request: Request) -> CheckerService:
    return request.app.state.service


#: A route's parameter for the app's `CheckerService`.
Service = Annotated[CheckerService, Depends(get_service)]


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_key_name(request: Request) -> str | None:
    """The name of the API key the key middleware admitted; None when the request used none."""
    name = getattr(request.state, "api_key", None)
    return str(name) if name else None


#: A route's parameter for the caller's key name: what its quotas are charged to.
KeyName = Annotated[str | None, Depends(get_key_name)]


async def get_tenant(request: Request) -> str:
    """The request's tenant (`proofgate.models.tenant`), set by the key middleware: whose workers
    run its submissions and whom its sessions, jobs and per-tenant cache entries belong to."""
    return str(getattr(request.state, "tenant", None) or ANONYMOUS)


#: A route's parameter for the caller's tenant.
Tenant = Annotated[str, Depends(get_tenant)]


def charge_submissions(request: Request, count: int) -> None:
    """Charge the request's key (if any) for the `count` submissions it carries: a batch, a
    group, a Kimina request."""
    admission = getattr(request.state, "admission", None)
    if admission is not None:
        admission.charge(count)
