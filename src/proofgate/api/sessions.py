"""`/v1/sessions`: interactive proof sessions (open, tactic, proof so far, finish, close).

A session belongs to the tenant that opened it (its API key's identity, `anonymous` without one;
`proofgate.models.tenant`): another tenant sees 404, runs on workers of its own, and each may hold
`settings.max_sessions_per_key` open sessions (then 429). Every outcome of a tactic is a 200
`TacticOutcome`; only `finish`, which runs the full check, answers a `Verdict`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from proofgate.api.deps import Tenant
from proofgate.api.errors import ERROR_RESPONSES
from proofgate.models import Verdict
from proofgate.models.http import ErrorBody
from proofgate.models.sessions import (
    FinishRequest,
    OpenSessionRequest,
    ProofSnippet,
    ProofState,
    SessionInfo,
    TacticOutcome,
    TacticRequest,
)
from proofgate.sessions import SessionManager

__all__ = ["router"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {
        "model": ErrorBody,
        "description": "No such session or state (unknown, expired, "
        "closed, or another key's): open a new session.",
    },
    429: {"model": ErrorBody, "description": "Too many open sessions for this key: close one."},
}

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=_RESPONSES)

SessionId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="The session's id, as `POST /v1/sessions` gave it.",
    ),
]
StateId = Annotated[
    int, Path(ge=0, description="One of the session's states (0 is the statement).")
]


async def get_sessions(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.sessions  # built by the app's lifespan
    return sessions


Sessions = Annotated[SessionManager, Depends(get_sessions)]


@router.post(
    "",
    response_model=SessionInfo,
    status_code=201,
    summary="Open a proof session on a locked statement",
    description="Elaborates the statement and answers its root state (state 0) with its goal. "
    "The statement must end in a theorem proved by `sorry`, as for `POST /v1/check`.",
)
async def open_session(body: OpenSessionRequest, sessions: Sessions, owner: Tenant) -> SessionInfo:
    return await sessions.open(body, owner=owner)


@router.post(
    "/{session_id}/tactic",
    response_model=TacticOutcome,
    summary="Run one tactic on any state of the session",
    description="A new state when Lean accepts the tactic; otherwise why not (policy refusal, "
    "Lean's error, timeout). States are never changed, so any earlier state can be tried again.",
)
async def run_tactic(
    body: TacticRequest, session_id: SessionId, sessions: Sessions, owner: Tenant
) -> TacticOutcome:
    return await sessions.run_tactic(session_id, body.state, body.tactic, owner=owner)


@router.get(
    "/{session_id}/states/{state}",
    response_model=ProofState,
    summary="One state of the session: its goals and how it was reached",
)
async def get_state(
    session_id: SessionId, state: StateId, sessions: Sessions, owner: Tenant
) -> ProofState:
    return sessions.state(session_id, state, owner=owner)


@router.get(
    "/{session_id}/states/{state}/proof",
    response_model=ProofSnippet,
    summary="The proof so far at a state, as Lean source",
)
async def get_proof(
    session_id: SessionId, state: StateId, sessions: Sessions, owner: Tenant
) -> ProofSnippet:
    return sessions.proof(session_id, state, owner=owner)


@router.post(
    "/{session_id}/finish",
    response_model=Verdict,
    summary="Check the proof at a state in full",
    description="Assembles the statement with the state's tactic path and runs the full check "
    "(policy, compile, trusted audit), as `POST /v1/check` would: only this can say `proved`.",
)
async def finish(
    body: FinishRequest, session_id: SessionId, sessions: Sessions, owner: Tenant
) -> Verdict:
    return await sessions.finish(session_id, body.state, owner=owner)


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    summary="Close a session now",
)
async def close_session(session_id: SessionId, sessions: Sessions, owner: Tenant) -> Response:
    await sessions.close_session(session_id, owner=owner)
    return Response(status_code=204)
