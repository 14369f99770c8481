"""What the agent fronts (the MCP server, the Dojo adapter) talk to: one async interface, `Backend`,
over an in-process `CheckerService` (`LocalBackend`) or a proofgate server (`RemoteBackend`).

Both answer with the same models (`Verdict`, `SessionInfo`, `TacticOutcome`, ...), so a front does
not care where Lean runs. A local backend owns its service when it started it (`LocalBackend.start`)
and closes it with itself.
"""

from __future__ import annotations

from typing import Protocol

from proofgate.client import AsyncClient
from proofgate.config import Settings
from proofgate.models import Submission, Verdict
from proofgate.models.http import EnvironmentInfo
from proofgate.models.sessions import (
    OpenSessionRequest,
    ProofSnippet,
    SessionInfo,
    TacticOutcome,
)
from proofgate.service import CheckerService
from proofgate.sessions import SessionManager

__all__ = ["Backend", "LocalBackend", "RemoteBackend"]


class Backend(Protocol):
    """Checks and proof sessions, wherever they run."""

    name: str

    async def check(self, submission: Submission) -> Verdict: ...

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

    @classmethod
    async def start(cls, settings: Settings) -> LocalBackend:
        """A service from `settings`, started (not ready without Lean: checks then say why)."""
        service = CheckerService(settings)
        await service.start()
        return cls(service, owned=True)

    async def check(self, submission: Submission) -> Verdict:
        return await self.service.check(submission)

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

    @classmethod
    def connect(cls, url: str, *, api_key: str | None = None) -> RemoteBackend:
        return cls(AsyncClient(url, api_key=api_key))

    async def check(self, submission: Submission) -> Verdict:
        return await self.client.check(submission)

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
