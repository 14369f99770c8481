"""The checker service: the one API every front (HTTP, CLI, CI, MCP) calls.

policy -> REPL pool -> trusted audit -> verdict and feedback. The fronts never reach past it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from proofgate.config import Settings
from proofgate.doctor import run_doctor
from proofgate.environments import discover_environments
from proofgate.exceptions import LeanUnavailable
from proofgate.models import Submission, Verdict

__all__ = ["CheckerService", "Readiness"]


@dataclass(frozen=True)
class Readiness:
    """Whether the service can verify now, and if not, why (each reason says how to fix it)."""

    ready: bool
    reasons: list[str] = field(default_factory=list)
    sandbox: str = "none"
    pool: dict[str, object] = field(default_factory=dict)


class CheckerService:
    """Owns the pool and the auditor for the life of a process (or an app's lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._readiness = Readiness(ready=False, reasons=["starting"])
        self._readiness_at = 0.0

    async def start(self) -> None:
        await self.refresh_readiness()

    async def close(self) -> None:
        return None

    async def refresh_readiness(self) -> Readiness:
        report = await asyncio.to_thread(run_doctor, self.settings)
        sandbox = next((c.detail for c in report.checks if c.name == "sandbox"), "none")
        self._readiness = Readiness(ready=report.ready, reasons=report.problems, sandbox=sandbox)
        self._readiness_at = time.monotonic()
        return self._readiness

    def readiness(self) -> Readiness:
        return self._readiness

    def environments(self) -> list[dict[str, object]]:
        return [env.describe() for env in discover_environments(self.settings).values()]

    async def check(self, submission: Submission) -> Verdict:
        """Verify one submission. Raises `NotReady`/`Busy` for the service's own state."""
        state = self.readiness()
        if not state.ready:
            raise LeanUnavailable("cannot verify: " + "; ".join(state.reasons))
        raise LeanUnavailable("verification pipeline not built yet")
