"""What CI mode needs from wherever its checks run (`proofgate.backends.open_backend` opens it).

`await checker.check(submission) -> Verdict`, raising a `ProofgateError` (`NotReady`, `Busy`,
`ServerError`, ...) when the service, not the proof, is at fault; `await checker.environments()`,
the environments it serves (`proofgate.ci.environment` chooses the run's among them).
"""

from __future__ import annotations

from typing import Protocol

from proofgate.models import Submission, Verdict
from proofgate.models.http import EnvironmentInfo

__all__ = ["Checker"]


class Checker(Protocol):
    """What CI mode needs from a checker service."""

    async def check(self, submission: Submission) -> Verdict: ...

    async def environments(self) -> list[EnvironmentInfo]: ...
