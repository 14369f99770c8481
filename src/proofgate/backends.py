"""Where checks run, said once: `open_backend` gives one async interface, `Backend`, over an
in-process `CheckerService` (`LocalBackend`) or a proofgate server (`RemoteBackend`).

Every front that can check either way (`check`, `triage`, `record`, `ci`, `batch`, the MCP server,
the Dojo adapter) opens its backend here. Both answer with the same models (`Verdict`,
`TriageResult`, `SessionInfo`, ...), so a front does not care where Lean runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import httpx

from proofgate.client import DEFAULT_TIMEOUT, AsyncClient
from proofgate.config import Settings
from proofgate.exceptions import NotReady
from proofgate.models import Submission, TriageRequest, TriageResult, Verdict
from proofgate.models.http import EnvironmentInfo
from proofgate.models.sessions import (
    OpenSessionRequest,
    ProofSnippet,
    SessionInfo,
    TacticOutcome,
)
from proofgate.service import CheckerService
from proofgate.sessions import SessionManager

__all__ = ["SERVER_CONCURRENCY", "Backend", "LocalBackend", "RemoteBackend", "open_backend"]

#: Checks a front keeps in flight against a server unless told otherwise (`proofgate ci`,
#: `proofgate batch --server`). The server queues and answers 503/429 beyond its own limits; 4
#: stays within a key's concurrency as the README shows it, and a CI gate does not wait out a
#: busy server beyond the client's own retries.
SERVER_CONCURRENCY = 4


class Backend(Protocol):
    """Checks and proof sessions, wherever they run."""

    name: str

    async def check(self, submission: Submission) -> Verdict: ...

    async def triage(self, request: TriageRequest) -> TriageResult: ...

    async def environments(self) -> list[EnvironmentInfo]: ...

    async def open_session(self, request: OpenSessionRequest) -> SessionInfo: ...

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome: ...

    async def session_proof(self, session_id: str, state: int) -> ProofSnippet: ...

    async def finish_session(self, session_id: str, state: int) -> Verdict: ...

    async def close_session(self, session_id: str) -> None: ...

    async def aclose(self) -> None: ...


class LocalBackend:
    """An in-process `CheckerService`; its sessions have no owner (one local user)."""

    name = "local"

    def __init__(self, service: CheckerService, *, owned: bool = False) -> None:
        self.service = service
        self.sessions = SessionManager(service)
        self._owned = owned

    async def check(self, submission: Submission) -> Verdict:
        return await self.service.check(submission)

    async def triage(self, request: TriageRequest) -> TriageResult:
        return await self.service.triage(request)

    async def environments(self) -> list[EnvironmentInfo]:
        return [EnvironmentInfo.model_validate(entry) for entry in self.service.environments()]

    async def open_session(self, request: OpenSessionRequest) -> SessionInfo:
        return await self.sessions.open(request)

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        return await self.sessions.run_tactic(session_id, state, tactic)

    async def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        return self.sessions.proof(session_id, state)

    async def finish_session(self, session_id: str, state: int) -> Verdict:
        return await self.sessions.finish(session_id, state)

    async def close_session(self, session_id: str) -> None:
        await self.sessions.close_session(session_id)

    async def aclose(self) -> None:
        await self.sessions.close()
        if self._owned:
            await self.service.close()


class RemoteBackend:
    """A proofgate server, through `proofgate.AsyncClient` (its retries and typed errors)."""

    name = "remote"

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def check(self, submission: Submission) -> Verdict:
        return await self.client.check(submission)

    async def triage(self, request: TriageRequest) -> TriageResult:
        return await self.client.triage(request)

    async def environments(self) -> list[EnvironmentInfo]:
        return await self.client.environments()

    async def open_session(self, request: OpenSessionRequest) -> SessionInfo:
        return await self.client.open_session(
            request.statement,
            environment=request.environment,
            target=request.target,
            policy=request.policy,
            allowed_axioms=request.allowed_axioms,
        )

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> TacticOutcome:
        return await self.client.run_tactic(session_id, state, tactic)

    async def session_proof(self, session_id: str, state: int) -> ProofSnippet:
        return await self.client.session_proof(session_id, state)

    async def finish_session(self, session_id: str, state: int) -> Verdict:
        return await self.client.finish_session(session_id, state)

    async def close_session(self, session_id: str) -> None:
        await self.client.close_session(session_id)

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def open_backend(
    settings: Settings,
    *,
    server: str | None = None,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    service: CheckerService | None = None,
    require_ready: bool = False,
) -> AsyncIterator[Backend]:
    """The proofgate server at `server` (a URL), or else a service in this process, closed on exit.

    A local service is built from `settings` unless one is given (`service`, started here, closed
    on exit all the same). Without Lean it starts anyway, and each check says why it cannot verify;
    with `require_ready` it raises `NotReady` at once instead (CI mode, batch runs: one clear
    error, not one per item). `api_key`, `timeout` and `transport` (for tests) are the client's.
    """
    if server:
        async with AsyncClient(server, api_key=api_key, timeout=timeout, transport=transport) as c:
            yield RemoteBackend(c)
        return
    backend = LocalBackend(service or CheckerService(settings), owned=True)
    try:
        await backend.service.start()
        readiness = backend.service.readiness()
        if require_ready and not readiness.ready:
            raise NotReady(
                "cannot verify in this process: "
                + "; ".join(readiness.reasons)
                + " (run `proofgate doctor`, or check against a server with --server URL)"
            )
        yield backend
    finally:
        await backend.aclose()
