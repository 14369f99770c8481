"""Where CI mode's checks go: the in-process `CheckerService`, or a proofgate server over HTTP.

Both give the same `Checker`: `await checker.check(submission) -> Verdict`, raising a
`ProofgateError` (`NotReady`, `Busy`, ...) when the service, not the proof, is at fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import httpx
from pydantic import ValidationError

from proofgate.config import Settings
from proofgate.exceptions import Busy, NotReady, ProofgateError, SubmissionError
from proofgate.models import Submission, Verdict

__all__ = ["Checker", "RemoteChecker", "local_checker", "remote_checker"]

#: Attempts on 429/503 before the check is reported as an infrastructure failure.
_ATTEMPTS = 4
#: Longest Retry-After honoured, in seconds (a CI job should not sleep for minutes).
_MAX_RETRY_AFTER = 30.0


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
            raise NotReady("local verification is not ready: " + "; ".join(state.reasons)
                           + " (run `proofgate doctor`, or check against a server with --server URL)")
        yield service
    finally:
        await service.close()


class RemoteChecker:
    """`POST /v1/check` on a proofgate server, retrying on 429/503 as Retry-After asks."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def check(self, submission: Submission) -> Verdict:
        body = submission.model_dump(mode="json", exclude_none=True)
        for attempt in range(_ATTEMPTS):
            try:
                response = await self._client.post("/v1/check", json=body)
            except httpx.HTTPError as exc:
                raise NotReady(f"cannot reach the proofgate server at {self._client.base_url}: {exc}") from exc
            if response.status_code == 200:
                try:
                    return Verdict.model_validate(response.json())
                except (ValueError, ValidationError) as exc:
                    raise NotReady(f"the server answered something that is not a verdict: {exc}") from exc
            if response.status_code in (429, 503) and attempt + 1 < _ATTEMPTS:
                await asyncio.sleep(_retry_after(response, attempt))
                continue
            raise _error_for(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        seconds = 0.5 * 2**attempt
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _error_for(response: httpx.Response) -> ProofgateError:
    detail = response.text.strip()[:500] or response.reason_phrase
    if response.status_code == 429:
        return Busy(f"the server refused the check: over quota ({detail})")
    if response.status_code == 503:
        return NotReady(f"the server cannot verify now: {detail}")
    if response.status_code in (401, 403):
        return NotReady(f"the server refused the API key ({response.status_code}): set PROOFGATE_API_KEY")
    if response.status_code == 422:
        return SubmissionError(f"the server refused the submission: {detail}")
    return NotReady(f"the server answered {response.status_code}: {detail}")


@asynccontextmanager
async def remote_checker(url: str, *, api_key: str | None = None, timeout: float = 600.0) -> AsyncIterator[Checker]:
    """A checker for the server at `url` (`http://host:port`)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
        yield RemoteChecker(client)
