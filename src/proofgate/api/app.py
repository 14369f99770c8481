"""The FastAPI application: routers, middleware and lifespan, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from proofgate.__about__ import __version__
from proofgate.api import check, environments, health, jobs, kimina, metrics, rewards
from proofgate.api.auth import install_auth
from proofgate.api.console import install_console
from proofgate.api.errors import BodySizeLimitMiddleware, install_error_handlers
from proofgate.api.middleware import RequestContextMiddleware
from proofgate.api.sessions import router as sessions_router
from proofgate.api.triage import router as triage_router
from proofgate.config import Settings, get_settings
from proofgate.rewards.log import open_reward_log
from proofgate.service import CheckerService
from proofgate.sessions import SessionManager


def create_app(
    settings: Settings | None = None, *, service: CheckerService | None = None
) -> FastAPI:
    """Build the app; `service` may be given by tests to run a prepared service."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.reward_log = open_reward_log(settings.reward_log)  # a bad path: fail now
        owned = service or CheckerService(settings)
        app.state.service = owned
        await owned.start()
        app.state.sessions = SessionManager(owned)
        try:
            await jobs.start_jobs(app, settings, owned)
            watch = asyncio.create_task(health.watch_store(app))
            try:
                yield
            finally:
                watch.cancel()
                await jobs.stop_jobs(app)
        finally:
            await app.state.sessions.close()
            await owned.close()
            if app.state.reward_log is not None:
                app.state.reward_log.close()

    app = FastAPI(
        title="proofgate",
        version=__version__,
        summary="Lean-backed proof verification with verdicts that cannot be gamed.",
        lifespan=lifespan,
        docs_url=None,  # served offline by api/console.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(check.router)
    app.include_router(environments.router)
    app.include_router(metrics.router)
    app.include_router(sessions_router)
    app.include_router(triage_router)
    app.include_router(jobs.router)
    app.include_router(rewards.router)
    app.include_router(kimina.router)
    install_console(app)  # the web console, share links, offline /docs and /redoc
    app.state.metrics = metrics.Metrics(
        pool_stats=metrics.pool_stats_of(app.state),
        key_labels=settings.metrics_key_labels,
        cache_enabled=settings.cache_enabled,
    )
    install_error_handlers(app)
    # added last = outermost: the request id exists before the body limit answers
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    install_auth(app, settings)  # inside the request context: refusals get ids, logs, metrics
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app
