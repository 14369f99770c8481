"""`Client` (blocking) and `AsyncClient`: the Python client of the HTTP API (see `proofgate.client`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from proofgate.client._base import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    ENVIRONMENTS,
    RetryPolicy,
    build_submission,
    build_triage_request,
    decode,
    error_for,
    json_object,
)
from proofgate.client._batch import run_batch, run_batch_async
from proofgate.client._sessions import AsyncSessionMethods, SessionMethods
from proofgate.exceptions import ServerError
from proofgate.models import Submission, TriageRequest, TriageResult, Verdict
from proofgate.models.http import EnvironmentInfo, ReadinessReport
from proofgate.models.jobs import ItemError

__all__ = ["AsyncClient", "Client"]


class Client(SessionMethods):
    """Blocking client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, retry=retry, api_key=api_key)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def check(self, submission: Submission | None = None, /, **fields: Any) -> Verdict:
        """Verify one submission (a `Submission`, or its fields as keywords)."""
        built = build_submission(submission, fields)
        response = self._send(
            "POST",
            "/v1/check",
            content=built.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
            timeout=self._check_timeout(built),
        )
        if response.status_code != 200:
            raise error_for(response)
        return decode(response, Verdict)

    def batch(
        self, submissions: Iterable[Submission | Mapping[str, Any]], *, progress: bool = True
    ) -> list[Verdict | ItemError]:
        """Check many submissions as one server job; results in input order (an invalid item is
        an `ItemError`). A mapping may carry an `id`. Streams, with a progress bar on stderr."""
        return run_batch(self, submissions, progress=progress)

    def triage(self, request: TriageRequest | None = None, /, **fields: Any) -> TriageResult:
        """Triage one statement (a `TriageRequest`, or its fields as keywords): does it elaborate,
        and is it false, vacuous or trivially provable?"""
        built = build_triage_request(request, fields)
        response = self._send(
            "POST",
            "/v1/triage",
            content=built.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise error_for(response)
        return decode(response, TriageResult)

    def environments(self) -> list[EnvironmentInfo]:
        response = self._send("GET", "/v1/environments")
        if response.status_code != 200:
            raise error_for(response)
        try:
            return ENVIRONMENTS.validate_json(response.content)
        except ValidationError as exc:
            raise ServerError(f"unreadable environments list: {exc.errors()[0]['msg']}") from exc

    def health(self) -> dict[str, Any]:
        """`/healthz`: the process is up (raises `ServerError` if not)."""
        response = self._send("GET", "/healthz", retry=False)
        if response.status_code != 200:
            raise error_for(response)
        return json_object(response)

    def ready(self) -> ReadinessReport:
        """`/readyz`: whether the server can verify now; never retried, never raises on 503."""
        response = self._send("GET", "/readyz", retry=False)
        if response.status_code not in (200, 503):
            raise error_for(response)
        return decode(response, ReadinessReport)


class AsyncClient(AsyncSessionMethods):
    """The same API as `Client`, awaitable. Use `async with`, or `await aclose()`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, retry=retry, api_key=api_key)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self, submission: Submission | None = None, /, **fields: Any) -> Verdict:
        """Verify one submission (a `Submission`, or its fields as keywords)."""
        built = build_submission(submission, fields)
        response = await self._send(
            "POST",
            "/v1/check",
            content=built.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
            timeout=self._check_timeout(built),
        )
        if response.status_code != 200:
            raise error_for(response)
        return decode(response, Verdict)

    async def batch(
        self, submissions: Iterable[Submission | Mapping[str, Any]], *, progress: bool = True
    ) -> list[Verdict | ItemError]:
        """`Client.batch`, awaitable."""
        return await run_batch_async(self, submissions, progress=progress)

    async def triage(self, request: TriageRequest | None = None, /, **fields: Any) -> TriageResult:
        """Triage one statement (a `TriageRequest`, or its fields as keywords): does it elaborate,
        and is it false, vacuous or trivially provable?"""
        built = build_triage_request(request, fields)
        response = await self._send(
            "POST",
            "/v1/triage",
            content=built.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise error_for(response)
        return decode(response, TriageResult)

    async def environments(self) -> list[EnvironmentInfo]:
        response = await self._send("GET", "/v1/environments")
        if response.status_code != 200:
            raise error_for(response)
        try:
            return ENVIRONMENTS.validate_json(response.content)
        except ValidationError as exc:
            raise ServerError(f"unreadable environments list: {exc.errors()[0]['msg']}") from exc

    async def health(self) -> dict[str, Any]:
        """`/healthz`: the process is up (raises `ServerError` if not)."""
        response = await self._send("GET", "/healthz", retry=False)
        if response.status_code != 200:
            raise error_for(response)
        return json_object(response)

    async def ready(self) -> ReadinessReport:
        """`/readyz`: whether the server can verify now; never retried, never raises on 503."""
        response = await self._send("GET", "/readyz", retry=False)
        if response.status_code not in (200, 503):
            raise error_for(response)
        return decode(response, ReadinessReport)
