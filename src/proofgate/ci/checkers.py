"""What CI mode needs from wherever its checks run (`proofgate.backends.open_backend` opens it).

`await checker.check(submission) -> Verdict`, raising a `ProofgateError` (`NotReady`, `Busy`,
`ServerError`, ...) when the service, not the proof, is at fault.
"""

from __future__ import annotations

from typing import Protocol

from proofgate.models import Submission, Verdict

__all__ = ["Checker"]


class Checker(Protocol):
    """What CI mode needs from a checker service."""

    async def check(self, submission: Submission) -> Verdict: ...
