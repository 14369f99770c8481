"""What failures look like on the wire: 422 naming the field, 413, 503 with Retry-After, a 500 body.

Everything the submission itself caused is a verdict (200), never an error here. Bad input never
becomes a bare 500: validation errors are 422, oversized bodies 413, and an unexpected exception
is answered by `RequestContextMiddleware` with `internal_error_response` (JSON with the request id).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proofgate.exceptions import (
    Busy,
    ConfigError,
    JobNotFound,
    LeanUnavailable,
    NotReady,
    SandboxUnavailable,
    SessionError,
    SessionLimitReached,
    StoreError,
    SubmissionError,
    TenantBusy,
)
from proofgate.models.http import ErrorBody, ValidationIssue

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "ERROR_RESPONSES",
    "BodySizeLimitMiddleware",
    "error_response",
    "install_error_handlers",
    "internal_error_response",
    "limit_items",
    "request_id_of",
]

#: Retry-After when the service cannot say how long it needs (e.g. a missing toolchain).
DEFAULT_RETRY_AFTER = 30.0

_RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}

#: OpenAPI `responses` for routes that take a body and may find the service unready.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The body is larger than PROOFGATE_MAX_BODY_BYTES."},
    422: {"model": ErrorBody, "description": "The request is malformed; `detail` names the field."},
    429: {
        "model": ErrorBody,
        "description": "Over the API key's own rate, concurrency or share of the pool: retry later.",
        "headers": _RETRY_AFTER_HEADER,
    },
    500: {"model": ErrorBody, "description": "proofgate's own fault; quote the request id."},
    503: {
        "model": ErrorBody,
        "description": "Cannot verify now (no toolchain, no sandbox, saturated): retry later.",
        "headers": _RETRY_AFTER_HEADER,
    },
}


def request_id_of(request: Request | Scope) -> str | None:
    """The id `RequestContextMiddleware` gave the request (None where it has not run)."""
    scope = request.scope if isinstance(request, Request) else request
    return scope.get("state", {}).get("request_id")


def error_response(
    request_id: str | None,
    status_code: int,
    error: str,
    message: str,
    *,
    retry_after: float | None = None,
    estimated: bool = True,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Every JSON error the API answers (`ErrorBody`); `retry_after` goes in the Retry-After
    header, and in the body only when `estimated`."""
    body = ErrorBody(
        error=error,
        message=message,
        request_id=request_id,
        retry_after=retry_after if estimated else None,
        **extra,
    )
    sent = dict(headers or {})
    if retry_after is not None:
        sent["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status_code, headers=sent
    )


def internal_error_response(request_id: str | None) -> JSONResponse:
    """The answer to an exception nobody expected: no details leak, the id finds the log line."""
    return error_response(
        request_id,
        500,
        "internal",
        f"internal error (request id {request_id}): this is proofgate's fault, not the "
        "submission's; report it with the request id",
    )


class TooManyItems(Exception):
    """A request holds more submissions than PROOFGATE_MAX_BATCH_ITEMS: 413."""


def limit_items(request: Request, count: int, items: str) -> None:
    """Refuse (413) a request carrying `count` submissions, called `items` ("completions"), when
    that is more than PROOFGATE_MAX_BATCH_ITEMS."""
    limit = request.app.state.settings.max_batch_items
    if count > limit:
        raise TooManyItems(
            f"the request has {count} {items}, more than the {limit} allowed in one request: "
            "split it (or raise PROOFGATE_MAX_BATCH_ITEMS)"
        )


def _field_name(loc: Sequence[str | int]) -> str:
    parts = [str(part) for part in loc[1:]] if loc and loc[0] == "body" else [str(p) for p in loc]
    return ".".join(parts) or "body"


def _issues(exc: RequestValidationError) -> list[ValidationIssue]:
    issues = []
    for raw in exc.errors():
        loc = [part if isinstance(part, int) else str(part) for part in raw.get("loc", ())]
        message = str(raw.get("msg", "invalid"))
        if raw.get("type") == "json_invalid":
            position = loc[1] if len(loc) > 1 else "?"
            detail = (raw.get("ctx") or {}).get("error", "")
            message = f"the body is not valid JSON (at character {position}): {detail}".rstrip(": ")
            loc = ["body"]
        issues.append(ValidationIssue(loc=loc, msg=message, type=str(raw.get("type", "invalid"))))
    return issues


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = _issues(exc)
    summary = "; ".join(f"{_field_name(issue.loc)}: {issue.msg}" for issue in issues[:5])
    return error_response(
        request_id_of(request),
        422,
        "validation",
        f"invalid request: {summary}" if summary else "invalid request",
        detail=issues,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own 400 for a body it could not decode (e.g. not UTF-8) is a 422 like the rest."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        issue = ValidationIssue(
            loc=["body"], msg=f"the body could not be parsed: {exc.detail}", type="body_unparsable"
        )
        return error_response(
            request_id_of(request),
            422,
            "validation",
            f"invalid request: body: {issue.msg}",
            detail=[issue],
        )
    return await http_exception_handler(request, exc)


async def _submission_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SubmissionError)
    loc: list[str | int] = ["body", exc.field] if exc.field else ["body"]
    issue = ValidationIssue(loc=loc, msg=str(exc), type="submission")
    field = exc.field or "body"
    return error_response(
        request_id_of(request), 422, "submission", f"{field}: {exc}", detail=[issue]
    )


def _unready_message(reason: str) -> str:
    """The 503 message, `cannot verify now: REASON`, saying it once: a reason that already says
    what cannot be done (`cannot verify: ...`, `cannot triage: ...`) gets only the "now"."""
    what, colon, rest = reason.partition(": ")
    if colon and what.startswith("cannot ") and " " not in what.removeprefix("cannot "):
        return f"{what} now: {rest}"
    return f"cannot verify now: {reason}"


async def _not_ready(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotReady)
    if isinstance(exc, LeanUnavailable):
        kind = "lean_unavailable"
    elif isinstance(exc, SandboxUnavailable):
        kind = "sandbox_unavailable"
    else:
        kind = "not_ready"
    # Without the service's own estimate, the header still says when to look again, but the body
    # has no `retry_after`: clients take that as "an operator must act" and do not keep retrying.
    retry_after = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
    return error_response(
        request_id_of(request),
        503,
        kind,
        _unready_message(exc.reason),
        retry_after=retry_after,
        estimated=exc.retry_after is not None,
        reason=exc.reason,
    )


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    """The service as a whole is full: 503; one tenant's own share is: 429 (`TenantBusy`)."""
    assert isinstance(exc, Busy)
    mine = isinstance(exc, TenantBusy)
    return error_response(
        request_id_of(request),
        429 if mine else 503,
        "too_many_requests" if mine else "busy",
        f"{exc}: retry after {exc.retry_after:g}s",
        retry_after=exc.retry_after,
        reason=str(exc),
    )


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        request_id_of(request),
        503,
        "store_unavailable",
        f"the result store failed: {exc}",
        retry_after=DEFAULT_RETRY_AFTER,
        reason=str(exc),
    )


async def _config_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        request_id_of(request), 500, "misconfigured", f"server misconfigured: {exc}"
    )


async def _too_many_items(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request_id_of(request), 413, "too_many_items", str(exc))


async def _session_error(request: Request, exc: Exception) -> JSONResponse:
    """A session (or its state) that is not there is 404; one too many for the key is 429."""
    limited = isinstance(exc, SessionLimitReached)
    return error_response(
        request_id_of(request),
        429 if limited else 404,
        "too_many_sessions" if limited else "session_not_found",
        str(exc),
    )


async def _job_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request_id_of(request), 404, "not_found", str(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on `app` (the catch-all lives in the request middleware)."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SubmissionError, _submission_error)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(SessionError, _session_error)
    app.add_exception_handler(JobNotFound, _job_not_found)
    app.add_exception_handler(TooManyItems, _too_many_items)


class _BodyTooLarge(Exception):
    """Raised into the app when the streamed body passes the limit."""


class BodySizeLimitMiddleware:
    """413 for bodies over `max_body_bytes`, by Content-Length or by counting streamed chunks.

    Nothing is buffered here: a declared length over the limit is refused before the app runs, and a
    chunked body is cut off at the first chunk that passes the limit (whatever the app answered
    meanwhile is dropped in favour of the 413).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self, scope: Scope) -> JSONResponse:
        return error_response(
            request_id_of(scope),
            413,
            "body_too_large",
            f"the request body is larger than {self.max_body_bytes} bytes; send less, or raise "
            "PROOFGATE_MAX_BODY_BYTES on the server",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope)(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to the cut-off body; the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(scope)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    try:
        return int(Headers(scope=scope)["content-length"])
    except (KeyError, ValueError):
        return None
