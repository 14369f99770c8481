"""Per-request context as pure ASGI middleware: request id, a JSON log line, metrics, the 500 body.

Pure ASGI (not `BaseHTTPMiddleware`): no extra task or body buffering per request. The request id
is the client's `X-Request-ID` when it is sane (short, plain characters), else a fresh one; it is on
every response, in `request.state.request_id`, and bound into every log line of the request.
"""

from __future__ import annotations

import re
import time
import traceback
import uuid

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proofgate.api.errors import internal_error_response
from proofgate.api.metrics import Metrics
from proofgate.logs import get_logger

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")
#: Probes are logged at debug level: they arrive every few seconds and say nothing new.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/health"})  # /health: Kimina's

_log = get_logger("proofgate.http")


def _incoming_request_id(scope: Scope) -> str | None:
    value = Headers(scope=scope).get(REQUEST_ID_HEADER)
    return value if value is not None and _SANE_ID.fullmatch(value) else None


def _route_template(scope: Scope) -> str:
    """The matched route's path template; never the raw path, to keep label sets bounded."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"


class RequestContextMiddleware:
    """Outermost proofgate middleware: ids, logs and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (_HEADER_KEY, request_id.encode("ascii"))
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _HEADER_KEY]
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        began = time.perf_counter()
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            _log.error(
                "unhandled exception",
                method=scope.get("method"),
                path=scope.get("path"),
                error=repr(exc),
                traceback=traceback.format_exc(),
            )
            if started:
                raise  # half a response is out: let the server cut the connection
            await internal_error_response(request_id)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - began
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            if self.metrics is not None:
                self.metrics.observe_request(route, method, status, seconds)
            log = _log.debug if scope.get("path") in _QUIET_PATHS and status < 500 else _log.info
            log(
                "request",
                method=method,
                path=scope.get("path"),
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**tokens)
