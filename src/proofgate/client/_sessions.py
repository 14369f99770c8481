"""Proof-session methods of `proofgate.Client` and `proofgate.AsyncClient` (mixed into both),
each one flow (see `proofgate.client._base`) run blocking or awaited.

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
from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from typing_extensions import Unpack

from proofgate.client._base import (
    AsyncBase,
    ClientBase,
    Flow,
    Sleep,
    SyncBase,
    decode,
    error_for,
    send,
)
from proofgate.exceptions import (
    ProofgateError,
    SessionLimitReached,
    SessionNotFound,
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
from proofgate.models.validation import submission_error

__all__ = [
    "AsyncSessionMethods",
    "SessionMethods",
    "SessionOptions",
    "open_request",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
_JSON = {"Content-Type": "application/json"}


class SessionOptions(TypedDict, total=False):
    """What `open_session` takes besides the statement (defaults are `OpenSessionRequest`'s)."""

    environment: str
    target: str | None
    policy: Literal["strict", "permissive"] | None
    allowed_axioms: Sequence[str]


def open_request(statement: str, **options: Unpack[SessionOptions]) -> OpenSessionRequest:
    """The request body; a malformed field is a `SubmissionError` naming it."""
    fields: dict[str, Any] = dict(options)
    if "allowed_axioms" in fields:
        fields["allowed_axioms"] = list(fields["allowed_axioms"])
    try:
        return OpenSessionRequest(statement=statement, **fields)
    except ValidationError as exc:
        raise submission_error(exc, "session") from exc


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


def session_call(
    client: ClientBase,
    method: str,
    path: str,
    expected: int,
    model: type[ModelT] | None,
    **options: Any,
) -> Flow[Any]:
    """One session request; a refusal of the session (404, "too many sessions") is never retried."""
    attempt = 0
    while True:
        attempt += 1
        response = yield from send(client, method, path, retry=False, **options)
        refused = _session_refusal(response) is not None
        wait = None if refused else client._should_retry(response, attempt)
        if wait is None:
            return _result(response, expected, model)
        yield Sleep(wait)


def _path(session_id: str, *rest: str) -> str:
    return "/".join(["/v1/sessions", quote(session_id, safe=""), *rest])


def open_flow(client: ClientBase, request: OpenSessionRequest) -> Flow[SessionInfo]:
    body = request.model_dump_json(exclude_none=True)
    return session_call(
        client, "POST", "/v1/sessions", 201, SessionInfo, content=body, headers=_JSON
    )


def tactic_flow(
    client: ClientBase, session_id: str, state: int, tactic: str
) -> Flow[TacticOutcome]:
    payload = {"state": state, "tactic": tactic}
    return session_call(
        client, "POST", _path(session_id, "tactic"), 200, TacticOutcome, json=payload
    )


def state_flow(client: ClientBase, session_id: str, state: int) -> Flow[ProofState]:
    return session_call(client, "GET", _path(session_id, "states", str(state)), 200, ProofState)


def proof_flow(client: ClientBase, session_id: str, state: int) -> Flow[ProofSnippet]:
    path = _path(session_id, "states", str(state), "proof")
    return session_call(client, "GET", path, 200, ProofSnippet)


def finish_flow(client: ClientBase, session_id: str, state: int) -> Flow[Verdict]:
    return session_call(
        client, "POST", _path(session_id, "finish"), 200, Verdict, json={"state": state}
    )


def close_flow(client: ClientBase, session_id: str) -> Flow[None]:
    return session_call(client, "DELETE", _path(session_id), 204, None)


class SessionMethods(SyncBase):
    """The blocking session calls of `Client`."""

    def open_session(self, statement: str, **options: Unpack[SessionOptions]) -> SessionInfo:
        """Open a proof session on a locked statement; its root state (0) carries the goal.
        `options`: `environment` ("default"), `target`, `policy` (the server's), `allowed_axioms`."""
        return self._run(open_flow(self, open_request(statement, **options)))

    def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        """Run one tactic on any state of the session: a new state, or why not."""
        return self._run(tactic_flow(self, session_id, state, tactic))

    def session_state(self, session_id: str, state: int) -> ProofState:
        return self._run(state_flow(self, session_id, state))

    def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        """The proof so far at `state`, as Lean source."""
        return self._run(proof_flow(self, session_id, state))

    def finish_session(self, session_id: str, state: int) -> Verdict:
        """The full check of the proof at `state`: the only way a session reaches `proved`."""
        return self._run(finish_flow(self, session_id, state))

    def close_session(self, session_id: str) -> None:
        self._run(close_flow(self, session_id))


class AsyncSessionMethods(AsyncBase):
    """The awaitable session calls of `AsyncClient` (the same names, arguments and docs)."""

    async def open_session(self, statement: str, **options: Unpack[SessionOptions]) -> SessionInfo:
        return await self._run(open_flow(self, open_request(statement, **options)))

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        return await self._run(tactic_flow(self, session_id, state, tactic))

    async def session_state(self, session_id: str, state: int) -> ProofState:
        return await self._run(state_flow(self, session_id, state))

    async def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        return await self._run(proof_flow(self, session_id, state))

    async def finish_session(self, session_id: str, state: int) -> Verdict:
        return await self._run(finish_flow(self, session_id, state))

    async def close_session(self, session_id: str) -> None:
        await self._run(close_flow(self, session_id))
