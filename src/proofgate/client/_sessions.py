"""Proof-session methods of `proofgate.Client` and `proofgate.AsyncClient` (mixed into both).

    with proofgate.Client(url) as client:
        session = client.open_session("theorem t (p : Prop) (hp : p) : p := by sorry")
        step = client.run_tactic(session.session_id, 0, "exact hp")
        if step.ok and step.state.status == "no_goals":
            verdict = client.finish_session(session.session_id, step.state.state)

Errors as for `check`, plus `SessionNotFound` (404: unknown, expired or closed session, unknown
state) and `SessionLimitReached` (429 "too many sessions", which waiting does not fix, so it is
never retried). Every other 429/503 is retried as the client's `RetryPolicy` says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from proofgate.client._base import AsyncBase, SyncBase, decode, error_for
from proofgate.exceptions import (
    ProofgateError,
    SessionLimitReached,
    SessionNotFound,
    SubmissionError,
)
from proofgate.models import Verdict
from proofgate.models.http import ErrorBody
from proofgate.models.sessions import (
    OpenSessionRequest,
    ProofSnippet,
    ProofState,
    SessionInfo,
    TacticOutcome,
)

__all__ = ["AsyncSessionMethods", "SessionMethods", "open_request"]

ModelT = TypeVar("ModelT", bound=BaseModel)
_JSON = {"Content-Type": "application/json"}


def open_request(
    statement: str,
    *,
    environment: str = "default",
    target: str | None = None,
    policy: Literal["strict", "permissive"] = "strict",
    allowed_axioms: Sequence[str] = (),
) -> OpenSessionRequest:
    """The request body; a malformed field is a `SubmissionError` naming it."""
    try:
        return OpenSessionRequest(
            statement=statement,
            environment=environment,
            target=target,
            policy=policy,
            allowed_axioms=list(allowed_axioms),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise SubmissionError(f"{field or 'session'}: {first['msg']}", field=field) from exc


def _session_refusal(response: httpx.Response) -> ProofgateError | None:
    if response.status_code not in (404, 429):
        return None
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None
    if body.error == "session_not_found":
        return SessionNotFound(body.message)
    if body.error == "too_many_sessions":
        return SessionLimitReached(body.message)
    return None


def _result(response: httpx.Response, expected: int, model: type[ModelT] | None) -> Any:
    if response.status_code != expected:
        raise _session_refusal(response) or error_for(response)
    return decode(response, model) if model is not None else None


class SessionMethods(SyncBase):
    """The blocking session calls of `Client`."""

    def _session_call(
        self, method: str, path: str, expected: int, model: type[ModelT] | None, **kwargs: Any
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            response = self._send(method, path, retry=False, **kwargs)
            refused = _session_refusal(response) is not None
            wait = None if refused else self._should_retry(response, attempt)
            if wait is None:
                return _result(response, expected, model)
            self._sleep(wait)

    def open_session(
        self,
        statement: str,
        *,
        environment: str = "default",
        target: str | None = None,
        policy: Literal["strict", "permissive"] = "strict",
        allowed_axioms: Sequence[str] = (),
    ) -> SessionInfo:
        """Open a proof session on a locked statement; its root state (0) carries the goal."""
        body = open_request(
            statement,
            environment=environment,
            target=target,
            policy=policy,
            allowed_axioms=allowed_axioms,
        )
        return self._session_call(
            "POST",
            "/v1/sessions",
            201,
            SessionInfo,
            content=body.model_dump_json(exclude_none=True),
            headers=_JSON,
        )

    def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        """Run one tactic on any state of the session: a new state, or why not."""
        return self._session_call(
            "POST",
            f"/v1/sessions/{quote(session_id, safe='')}/tactic",
            200,
            TacticOutcome,
            json={"state": state, "tactic": tactic},
        )

    def session_state(self, session_id: str, state: int) -> ProofState:
        return self._session_call(
            "GET", f"/v1/sessions/{quote(session_id, safe='')}/states/{state}", 200, ProofState
        )

    def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        """The proof so far at `state`, as Lean source."""
        return self._session_call(
            "GET",
            f"/v1/sessions/{quote(session_id, safe='')}/states/{state}/proof",
            200,
            ProofSnippet,
        )

    def finish_session(self, session_id: str, state: int) -> Verdict:
        """The full check of the proof at `state`: the only way a session reaches `proved`."""
        return self._session_call(
            "POST",
            f"/v1/sessions/{quote(session_id, safe='')}/finish",
            200,
            Verdict,
            json={"state": state},
        )

    def close_session(self, session_id: str) -> None:
        self._session_call("DELETE", f"/v1/sessions/{quote(session_id, safe='')}", 204, None)


class AsyncSessionMethods(AsyncBase):
    """The awaitable session calls of `AsyncClient` (same names and arguments)."""

    async def _session_call(
        self, method: str, path: str, expected: int, model: type[ModelT] | None, **kwargs: Any
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            response = await self._send(method, path, retry=False, **kwargs)
            refused = _session_refusal(response) is not None
            wait = None if refused else self._should_retry(response, attempt)
            if wait is None:
                return _result(response, expected, model)
            await self._sleep(wait)

    async def open_session(
        self,
        statement: str,
        *,
        environment: str = "default",
        target: str | None = None,
        policy: Literal["strict", "permissive"] = "strict",
        allowed_axioms: Sequence[str] = (),
    ) -> SessionInfo:
        body = open_request(
            statement,
            environment=environment,
            target=target,
            policy=policy,
            allowed_axioms=allowed_axioms,
        )
        return await self._session_call(
            "POST",
            "/v1/sessions",
            201,
            SessionInfo,
            content=body.model_dump_json(exclude_none=True),
            headers=_JSON,
        )

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        return await self._session_call(
            "POST",
            f"/v1/sessions/{quote(session_id, safe='')}/tactic",
            200,
            TacticOutcome,
            json={"state": state, "tactic": tactic},
        )

    async def session_state(self, session_id: str, state: int) -> ProofState:
        return await self._session_call(
            "GET", f"/v1/sessions/{quote(session_id, safe='')}/states/{state}", 200, ProofState
        )

    async def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        return await self._session_call(
            "GET",
            f"/v1/sessions/{quote(session_id, safe='')}/states/{state}/proof",
            200,
            ProofSnippet,
        )

    async def finish_session(self, session_id: str, state: int) -> Verdict:
        return await self._session_call(
            "POST",
            f"/v1/sessions/{quote(session_id, safe='')}/finish",
            200,
            Verdict,
            json={"state": state},
        )

    async def close_session(self, session_id: str) -> None:
        await self._session_call("DELETE", f"/v1/sessions/{quote(session_id, safe='')}", 204, None)
