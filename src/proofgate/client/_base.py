"""What the blocking and the awaitable client share: the retry policy, request building, and the
mapping of HTTP answers to typed errors (see `proofgate.client` for the behaviour).

`SyncBase` and `AsyncBase` send one request with retries; the clients, and the batch and session
helpers, are built on them and on nothing else of each other.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from proofgate.__about__ import __version__
from proofgate.exceptions import (
    Busy,
    ClientError,
    LeanUnavailable,
    NotReady,
    ProofgateError,
    SandboxUnavailable,
    ServerError,
    SubmissionError,
)
from proofgate.models import Submission, TriageRequest
from proofgate.models.http import EnvironmentInfo, ErrorBody

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "AsyncBase",
    "RetryPolicy",
    "SyncBase",
    "build_submission",
    "build_triage_request",
    "decode",
    "error_for",
    "transport_error",
]

DEFAULT_URL = "http://127.0.0.1:8000"
#: A check may wait for a worker and then run for the server's request timeout and the audit.
DEFAULT_TIMEOUT = 180.0
_RETRY_STATUSES = frozenset({429, 503})
ENVIRONMENTS = TypeAdapter(list[EnvironmentInfo])
_NOT_READY_KINDS: dict[str, type[NotReady]] = {
    "lean_unavailable": LeanUnavailable,
    "sandbox_unavailable": SandboxUnavailable,
}
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class RetryPolicy:
    """How 429/503 answers are retried: `attempts` tries in all, sleeps capped at `max_sleep`."""

    attempts: int = 4
    backoff: float = 0.5  # first sleep without Retry-After; doubles each time
    max_sleep: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before try `attempt + 1` (`attempt` counts from 1)."""
        if retry_after is not None:
            wanted = retry_after
        else:
            wanted = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)  # noqa: S311
        return max(0.0, min(wanted, self.max_sleep))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def build_submission(submission: Submission | None, fields: Mapping[str, Any]) -> Submission:
    """A `Submission` from either the model or its fields; a bad field is a `SubmissionError`."""
    if submission is not None:
        if fields:
            raise TypeError("give a Submission or keyword fields, not both")
        return submission
    try:
        return Submission(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise SubmissionError(f"{field or 'submission'}: {first['msg']}", field=field) from exc


def build_triage_request(request: TriageRequest | None, fields: Mapping[str, Any]) -> TriageRequest:
    """A `TriageRequest` from either the model or its fields; a bad field is a `SubmissionError`."""
    if request is not None:
        if fields:
            raise TypeError("give a TriageRequest or keyword fields, not both")
        return request
    try:
        return TriageRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise SubmissionError(f"{field or 'request'}: {first['msg']}", field=field) from exc


def error_body(response: httpx.Response) -> ErrorBody | None:
    try:
        return ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None


def error_for(response: httpx.Response) -> ProofgateError:
    """The typed error for an unsuccessful answer."""
    body = error_body(response)
    request_id = (body.request_id if body else None) or response.headers.get("x-request-id")
    message = body.message if body else (response.text[:500] or response.reason_phrase)
    status = response.status_code
    if status == 503:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if body is not None and body.error == "busy":
            return Busy(message, retry_after=retry_after if retry_after is not None else 1.0)
        kind = _NOT_READY_KINDS.get(body.error if body else "", NotReady)
        return kind((body.reason if body and body.reason else message), retry_after=retry_after)
    if status == 422:
        field = None
        if body is not None and body.detail:
            parts = [str(part) for part in body.detail[0].loc]
            field = ".".join(parts[1:] if parts[:1] == ["body"] else parts) or None
        return SubmissionError(message, field=field)
    if 400 <= status < 500:
        return ClientError(f"HTTP {status}: {message}", status_code=status, request_id=request_id)
    return ServerError(f"HTTP {status}: {message}", status_code=status, request_id=request_id)


def decode(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """A successful answer as `model`; anything else unreadable is the server's fault."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ServerError(
            f"the server's answer is not a valid {model.__name__}: {exc.errors()[0]['msg']}",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from exc


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError as exc:
        raise ServerError(f"the server's answer is not JSON: {response.text[:200]!r}") from exc
    if not isinstance(value, dict):
        raise ServerError(f"the server's answer is not a JSON object: {value!r:.200}")
    return value


def transport_error(exc: httpx.HTTPError, url: str) -> ServerError:
    if isinstance(exc, httpx.TimeoutException):
        return ServerError(
            f"no answer from {url} in time ({type(exc).__name__}); raise the timeout"
        )
    return ServerError(f"cannot reach proofgate at {url}: {exc}; is `proofgate serve` running?")


class _Base:
    """What both clients share: the base URL, headers, timeouts and the retry policy."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy | None,
        api_key: str | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._headers = {"User-Agent": f"proofgate-client/{__version__}"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _check_timeout(self, submission: Submission) -> httpx.Timeout:
        """Wait at least the submission's own timeout plus room for queueing and the audit."""
        if submission.timeout is None:
            return self._timeout
        read = max(self._timeout.read or 0.0, submission.timeout + 60.0)
        return httpx.Timeout(
            self._timeout.connect, read=read, write=self._timeout.write, pool=self._timeout.pool
        )

    def _should_retry(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying `response`, or None to stop here.

        A 503 "not ready" without the service's own estimate (no toolchain, no sandbox) needs an
        operator, not patience: it is reported at once. Busy, quota, and 503s with an estimate
        (or from something in front of proofgate) are retried.
        """
        if response.status_code not in _RETRY_STATUSES or attempt >= self.retry.attempts:
            return None
        if response.status_code == 503:
            body = error_body(response)
            if body is not None and body.error != "busy" and body.retry_after is None:
                return None
        return self.retry.delay(attempt, parse_retry_after(response.headers.get("retry-after")))


class SyncBase(_Base):
    """One blocking request with retries; `Client` and its helpers send through it."""

    _http: httpx.Client
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _send(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.base_url) from exc
            wait = self._should_retry(response, attempt) if retry else None
            if wait is None:
                return response
            self._sleep(wait)


class AsyncBase(_Base):
    """One awaitable request with retries; `AsyncClient` and its helpers send through it."""

    _http: httpx.AsyncClient
    _sleep: Callable[[float], Any] = staticmethod(asyncio.sleep)

    async def _send(
        self, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.base_url) from exc
            wait = self._should_retry(response, attempt) if retry else None
            if wait is None:
                return response
            await self._sleep(wait)
