"""The FastAPI application: routers, middleware and lifespan, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from proofgate.__about__ import __version__
from proofgate.api import health
from proofgate.config import Settings, get_settings
from proofgate.service import CheckerService


def create_app(settings: Settings | None = None, *, service: CheckerService | None = None) -> FastAPI:
    """Build the app; `service` may be given by tests to run a prepared service."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service or CheckerService(settings)
        app.state.service = owned
        await owned.start()
        try:
            yield
        finally:
            await owned.close()

    app = FastAPI(
        title="proofgate",
        version=__version__,
        summary="Lean-backed proof verification with verdicts that cannot be gamed.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(health.router)
    return app
