"""API keys on `/v1/*`, `/api/*` and Kimina's `/verify` and `/one_pass_verify_batch`, as pure ASGI
middleware (it must span a streamed body too).

- A key comes as `Authorization: Bearer TOKEN` or `X-API-Key: TOKEN`. Unknown: 401 with
  WWW-Authenticate; revoked: 403; over its rate or concurrency: 429 with Retry-After.
- No active key configured (DESIGN.md, Settled questions): only loopback clients are served, as
  `proofgate serve` only binds loopback then; `allow_unauthenticated` lifts that. With keys,
  a request without one is refused (401) unless `allow_unauthenticated` is set.
- Probes, metrics and docs (`/healthz`, Kimina's `/health`, `/readyz`, `/metrics`, `/docs`,
  `/redoc`, their files under `/static-offline-docs/`, `/openapi.json`) stay open, as do the web
  console's pages and files (`/`, `/console/`) and share links (`/r/<id>`): every API the console
  calls is under `/v1`, guarded.

The admitted key's name is `request.state.api_key` and its `Admission` is `request.state.admission`
(None when no key was used), so routes that carry many submissions can charge them. The request's
tenant (`proofgate.models.tenant`: the key's, or `anonymous` without one) is `request.state.tenant`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import KW_ONLY, dataclass

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from proofgate.api.errors import DEFAULT_RETRY_AFTER, error_response, request_id_of
from proofgate.api.metrics import Metrics
from proofgate.api.quotas import Admission, Quotas, Refusal
from proofgate.config import Settings
from proofgate.exceptions import StoreError
from proofgate.logs import get_logger
from proofgate.models.tenant import ANONYMOUS, key_tenant
from proofgate.store.keys import KeyStore

__all__ = ["GUARDED_PREFIXES", "ApiKeyMiddleware", "install_auth", "is_loopback_client"]

#: Path prefixes that need a key; everything else (probes, metrics, docs) is open.
GUARDED_PREFIXES = ("/v1/", "/api/")
#: Whole paths that need a key (a trailing slash aside): Kimina's legacy routes sit at the root.
GUARDED_PATHS = frozenset({"/v1", "/api", "/verify", "/one_pass_verify_batch"})
_REALM = 'Bearer realm="proofgate"'

_log = get_logger("proofgate.auth")


def is_loopback_client(scope: Scope) -> bool:
    """Whether the peer is on this machine (IPv4/IPv6 loopback, or IPv4-mapped loopback)."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]).split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _guarded(path: str) -> bool:
    return path.startswith(GUARDED_PREFIXES) or path.rstrip("/") in GUARDED_PATHS


def _presented_token(scope: Scope) -> tuple[str | None, bool]:
    """The token the request carries, and whether it tried to carry one at all (a header given
    twice: its first value, as the routes' `request.headers` read it)."""
    headers = Headers(scope=scope)
    authorization = headers.get("authorization", "").strip()
    api_key = headers.get("x-api-key", "").strip()
    if api_key:
        return api_key, True
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip(), True
        return None, True
    return None, False


def _unauthorized(scope: Scope, message: str, problem: str | None = None) -> JSONResponse:
    """401 with the Bearer challenge, naming the `problem` (RFC 6750) when there is one."""
    challenge = _REALM + (f', error="{problem}"' if problem else "")
    return error_response(
        request_id_of(scope),
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": challenge},
    )


@dataclass(eq=False)
class ApiKeyMiddleware:
    """Authenticates, then admits under the key's quotas, for the guarded paths."""

    app: ASGIApp
    _: KW_ONLY
    keys: KeyStore
    quotas: Quotas
    allow_unauthenticated: bool = False
    metrics: Metrics | None = None

    def _refuse(self, reason: str, response: JSONResponse) -> JSONResponse:
        if self.metrics is not None:
            self.metrics.observe_auth_failure(reason)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _guarded(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["api_key"] = None
        state["admission"] = None
        state["tenant"] = ANONYMOUS
        outcome = self._authenticate(scope)
        if isinstance(outcome, JSONResponse):
            await outcome(scope, receive, send)
            return
        if outcome is None:
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            outcome.release()

    def _authenticate(self, scope: Scope) -> Admission | JSONResponse | None:
        """An admission, a refusal to send, or None for a request served without a key."""
        try:
            active = self.keys.active_keys()
        except StoreError as exc:
            _log.error("api keys unreadable", error=str(exc))
            return error_response(
                request_id_of(scope),
                503,
                "store_unavailable",
                f"cannot check API keys: {exc}",
                retry_after=DEFAULT_RETRY_AFTER,
            )
        token, tried = _presented_token(scope)
        if token is None and tried:
            return self._refuse(
                "malformed",
                _unauthorized(
                    scope,
                    "the Authorization header is not `Bearer TOKEN`: send the API key as "
                    "`Authorization: Bearer TOKEN` or `X-API-Key: TOKEN`",
                    "invalid_request",
                ),
            )
        if token is None:
            if self.allow_unauthenticated or (not active and is_loopback_client(scope)):
                return None
            if not active:
                message = (
                    "no API keys are configured, so this server answers loopback clients only: "
                    "create a key with `proofgate keys create NAME` on the server"
                )
            else:
                message = (
                    "an API key is required: send it as `Authorization: Bearer TOKEN` or "
                    "`X-API-Key: TOKEN` (keys come from `proofgate keys create NAME`)"
                )
            return self._refuse("missing", _unauthorized(scope, message))
        match = self.keys.match(token)
        if match.key is None:
            return self._refuse(
                "invalid",
                _unauthorized(
                    scope,
                    "the API key is not valid: check it, or ask for a new one "
                    "(`proofgate keys create NAME`)",
                    "invalid_token",
                ),
            )
        if match.revoked:
            return self._refuse(
                "revoked",
                error_response(
                    request_id_of(scope),
                    403,
                    "forbidden",
                    f"the API key {match.key.name!r} was revoked: ask for a new one",
                ),
            )
        admitted = self.quotas.admit(match.key)
        if isinstance(admitted, Refusal):
            if self.metrics is not None:
                self.metrics.observe_quota_rejection(match.key.name, admitted.limit)
            return error_response(
                request_id_of(scope),
                429,
                "rate_limited" if admitted.limit == "rate" else "too_many_requests",
                admitted.message,
                retry_after=admitted.retry_after,
            )
        scope["state"]["api_key"] = match.key.name
        scope["state"]["admission"] = admitted
        scope["state"]["tenant"] = key_tenant(match.key.token_sha256)
        if self.metrics is not None:
            self.metrics.observe_key_request(match.key.name)
        return admitted


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Add the key check to `app` (keys from `settings.api_keys_file`); call it between the body
    limit and the request-context middleware, so refusals carry a request id and are counted."""
    assert settings.api_keys_file is not None  # derived from data_dir when unset
    app.state.keys = KeyStore(settings.api_keys_file)
    app.state.quotas = Quotas()
    app.add_middleware(
        ApiKeyMiddleware,
        keys=app.state.keys,
        quotas=app.state.quotas,
        allow_unauthenticated=settings.allow_unauthenticated,
        metrics=app.state.metrics,
    )
