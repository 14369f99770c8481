"""Where CI mode's checks go: the in-process `CheckerService`, or a proofgate server over HTTP.

Both give the same `Checker`: `await checker.check(submission) -> Verdict`, raising a
`ProofgateError` (`NotReady`, `Busy`, `ServerError`, ...) when the service, not the proof, is at
fault. The remote one is `proofgate.AsyncClient` (bounded retries on 429/503, Retry-After honoured).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import httpx

from proofgate.client import AsyncClient
from proofgate.config import Settings
from proofgate.exceptions import NotReady
from proofgate.models import Submission, Verdict

__all__ = ["Checker", "local_checker", "remote_checker"]


class Checker(Protocol):
    """What CI mode needs from a checker service."""

    async def check(self, submission: Submission) -> Verdict: ...


@asynccontextmanager
async def local_checker(settings: Settings) -> AsyncIterator[Checker]:
    """The in-process service; not ready (no toolchain, no sandbox) raises `NotReady`."""
    from proofgate.service import CheckerService

    service = CheckerService(settings)
    await service.start()
    try:
        state = service.readiness()
        if not state.ready:
            raise NotReady(
                "local verification is not ready: "
                + "; ".join(state.reasons)
                + " (run `proofgate doctor`, or check against a server with --server URL)"
            )
        yield service
    finally:
        await service.close()


@asynccontextmanager
async def remote_checker(
    url: str,
    *,
    api_key: str | None = None,
    timeout: float = 600.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Checker]:
    """A checker for the server at `url` (`http://host:port`); `transport` is for tests."""
    async with AsyncClient(url, api_key=api_key, timeout=timeout, transport=transport) as client:
        yield client
