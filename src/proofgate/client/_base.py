"""What the blocking and the awaitable client share: the retry policy, request building, and the
mapping of HTTP answers to typed errors (see `proofgate.client` for the behaviour).

Every call is written once, as a *flow*: a generator that yields what it needs done (`Send`,
`Sleep`, `NextLine`) and is sent the answers, so the logic of a call (building the request,
retrying 429/503, following a stream, mapping errors) has no I/O in it. `SyncBase._run` and
`AsyncBase._run` are the only places that do I/O, blocking or awaited. The clients and the batch
and session helpers are built on this module and on nothing else of each other.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from proofgate import exceptions as errors
from proofgate.__about__ import __version__
from proofgate.models import Submission
from proofgate.models.http import EnvironmentInfo, ErrorBody
from proofgate.models.validation import submission_error

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "Action",
    "AsyncBase",
    "ClientBase",
    "Flow",
    "NextLine",
    "RetryPolicy",
    "Send",
    "Sleep",
    "SyncBase",
    "build",
    "decode",
    "error_for",
    "expect",
    "send",
    "transport_error",
]

DEFAULT_URL = "http://127.0.0.1:8000"
#: A check may wait for a worker and then run for the server's request timeout and the audit.
DEFAULT_TIMEOUT = 180.0
_RETRY_STATUSES = frozenset({429, 503})
ENVIRONMENTS = TypeAdapter(list[EnvironmentInfo])
_NOT_READY_KINDS: dict[str, type[errors.NotReady]] = {
    "lean_unavailable": errors.LeanUnavailable,
    "sandbox_unavailable": errors.SandboxUnavailable,
}
ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")


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


def build(
    model: type[ModelT], given: ModelT | None, fields: Mapping[str, Any], name: str
) -> ModelT:
    """`given`, or a `model` from keyword `fields` (not both); a bad field is a `SubmissionError`
    naming it (`name` when pydantic names none)."""
    if given is not None:
        if fields:
            raise TypeError(f"give a {model.__name__} or keyword fields, not both")
        return given
    try:
        return model(**fields)
    except ValidationError as exc:
        raise submission_error(exc, name) from exc


def error_body(response: httpx.Response) -> ErrorBody | None:
    try:
        return ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None


def error_for(response: httpx.Response) -> errors.ProofgateError:
    """The typed error for an unsuccessful answer."""
    body = error_body(response)
    request_id = (body.request_id if body else None) or response.headers.get("x-request-id")
    message = body.message if body else (response.text[:500] or response.reason_phrase)
    status = response.status_code
    if status == 503:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if body is not None and body.error == "busy":
            return errors.Busy(message, retry_after=retry_after if retry_after is not None else 1.0)
        kind = _NOT_READY_KINDS.get(body.error if body else "", errors.NotReady)
        return kind((body.reason if body and body.reason else message), retry_after=retry_after)
    if status == 422:
        field = None
        if body is not None and body.detail:
            parts = [str(part) for part in body.detail[0].loc]
            field = ".".join(parts[1:] if parts[:1] == ["body"] else parts) or None
        return errors.SubmissionError(message, field=field)
    if 400 <= status < 500:
        return errors.ClientError(
            f"HTTP {status}: {message}", status_code=status, request_id=request_id
        )
    return errors.ServerError(
        f"HTTP {status}: {message}", status_code=status, request_id=request_id
    )


def decode(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """A successful answer as `model`; anything else unreadable is the server's fault."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise errors.ServerError(
            f"the server's answer is not a valid {model.__name__}: {exc.errors()[0]['msg']}",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from exc


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError as exc:
        raise errors.ServerError(
            f"the server's answer is not JSON: {response.text[:200]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise errors.ServerError(f"the server's answer is not a JSON object: {value!r:.200}")
    return value


def transport_error(exc: httpx.HTTPError, url: str) -> errors.ServerError:
    if isinstance(exc, httpx.TimeoutException):
        return errors.ServerError(
            f"no answer from {url} in time ({type(exc).__name__}); raise the timeout"
        )
    return errors.ServerError(
        f"cannot reach proofgate at {url}: {exc}; is `proofgate serve` running?"
    )


class ClientBase:
    """What both clients share: the base URL, headers, timeouts and the retry policy."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._headers = {"User-Agent": f"proofgate-client/{__version__}"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._open(transport, base_url=self.base_url, headers=self._headers, timeout=self._timeout)

    def _open(self, transport: object, **options: Any) -> None:
        """Make `self._http`, the httpx client of this kind (blocking or awaitable)."""
        raise NotImplementedError

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


# --- sans-IO: every call is a flow of actions, written once; two drivers run it ------------------


@dataclass(frozen=True)
class Send:
    """Send one request. The answer is its response, read whole; with `stream` a 200 stays open for
    `NextLine` (until the stream ends, the next `Send`, or the end of the flow)."""

    method: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)  # httpx's build_request keywords
    stream: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class NextLine:
    """The next line of the open stream; None at its end."""


Action = Send | Sleep | NextLine
#: A call's logic: yields actions, is sent their answers (or thrown `httpx.HTTPError`), returns T.
Flow = Generator[Action, Any, T]


def send(
    client: ClientBase,
    method: str,
    path: str,
    *,
    retry: bool = True,
    stream: bool = False,
    **options: Any,
) -> Flow[httpx.Response]:
    """One request, retried on 429/503 as the client's `RetryPolicy` says (unless `retry` is off);
    a transport failure is a `ServerError`."""
    attempt = 0
    while True:
        attempt += 1
        try:
            response: httpx.Response = yield Send(method, path, options, stream=stream)
        except httpx.HTTPError as exc:
            raise transport_error(exc, client.base_url) from exc
        wait = client._should_retry(response, attempt) if retry else None
        if wait is None:
            return response
        yield Sleep(wait)


def expect(response: httpx.Response, status: int, model: type[ModelT]) -> ModelT:
    """`response` as `model` when it has `status`, else its typed error."""
    if response.status_code != status:
        raise error_for(response)
    return decode(response, model)


class _Walk:
    """Steps a flow: `action` is what it asks for next, None once it has returned `result`."""

    def __init__(self, flow: Flow[Any]) -> None:
        self._flow = flow
        self.action: Action | None = None
        self.result: Any = None
        self._step(lambda: next(flow))

    def resume(self, answer: object, error: BaseException | None) -> None:
        if error is not None:
            self._step(lambda: self._flow.throw(error))
        else:
            self._step(lambda: self._flow.send(answer))

    def _step(self, advance: Callable[[], Action]) -> None:
        try:
            self.action = advance()
        except StopIteration as done:
            self.action, self.result = None, done.value


class _Stream:
    """The one open streamed response of a run, and its lines."""

    def __init__(self) -> None:
        self.response: Any = None
        self.lines: Any = None

    def take(self, response: Any, lines: Any) -> None:
        self.response, self.lines = response, lines


class SyncBase(ClientBase):
    """Runs flows with blocking I/O (`Client` and its session methods)."""

    _http: httpx.Client
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _open(self, transport: object, **options: Any) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise TypeError(f"a blocking client needs an httpx.BaseTransport, not {transport!r}")
        self._http = httpx.Client(transport=transport, **options)

    def _run(self, flow: Flow[T]) -> T:
        walk, stream = _Walk(flow), _Stream()
        try:
            while walk.action is not None:
                walk.resume(*self._attempt(walk.action, stream))
            result: T = walk.result
            return result
        finally:
            self._close(stream)

    def _attempt(self, action: Action, stream: _Stream) -> tuple[object, BaseException | None]:
        try:
            if isinstance(action, Sleep):
                self._sleep(action.seconds)
                return None, None
            if isinstance(action, NextLine):
                line = next(stream.lines, None)
                if line is None:
                    self._close(stream)
                return line, None
            self._close(stream)
            request = self._http.build_request(action.method, action.path, **action.options)
            response = self._http.send(request, stream=action.stream)
            if action.stream and response.status_code == 200:
                stream.take(response, response.iter_lines())
            elif action.stream:
                response.read()
                response.close()
            return response, None
        except httpx.HTTPError as exc:
            return None, exc

    @staticmethod
    def _close(stream: _Stream) -> None:
        if stream.response is not None:
            stream.response.close()
            stream.take(None, None)


class AsyncBase(ClientBase):
    """Runs flows with awaitable I/O (`AsyncClient` and its session methods)."""

    _http: httpx.AsyncClient
    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def _open(self, transport: object, **options: Any) -> None:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError(f"an async client needs an httpx.AsyncBaseTransport, not {transport!r}")
        self._http = httpx.AsyncClient(transport=transport, **options)

    async def _run(self, flow: Flow[T]) -> T:
        walk, stream = _Walk(flow), _Stream()
        try:
            while walk.action is not None:
                walk.resume(*await self._attempt(walk.action, stream))
            result: T = walk.result
            return result
        finally:
            await self._close(stream)

    async def _attempt(
        self, action: Action, stream: _Stream
    ) -> tuple[object, BaseException | None]:
        try:
            if isinstance(action, Sleep):
                await self._sleep(action.seconds)
                return None, None
            if isinstance(action, NextLine):
                line = await anext(stream.lines, None)
                if line is None:
                    await self._close(stream)
                return line, None
            await self._close(stream)
            request = self._http.build_request(action.method, action.path, **action.options)
            response = await self._http.send(request, stream=action.stream)
            if action.stream and response.status_code == 200:
                stream.take(response, response.aiter_lines())
            elif action.stream:
                await response.aread()
                await response.aclose()
            return response, None
        except httpx.HTTPError as exc:
            return None, exc

    @staticmethod
    async def _close(stream: _Stream) -> None:
        if stream.response is not None:
            await stream.response.aclose()
            stream.take(None, None)
