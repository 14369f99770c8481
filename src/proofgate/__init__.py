"""proofgate: Lean-backed proof verification with verdicts that cannot be gamed."""

from proofgate.__about__ import __version__
from proofgate.client import AsyncClient, Client, RetryPolicy
from proofgate.exceptions import (
    Busy,
    ClientError,
    LeanUnavailable,
    NotReady,
    ProofgateError,
    RemoteError,
    SandboxUnavailable,
    ServerError,
    SessionLimitReached,
    SessionNotFound,
    SubmissionError,
)
from proofgate.models import Submission, Verdict, VerdictStatus
from proofgate.models.http import EnvironmentInfo, ReadinessReport

__all__ = [
    "AsyncClient",
    "Busy",
    "Client",
    "ClientError",
    "EnvironmentInfo",
    "LeanUnavailable",
    "NotReady",
    "ProofgateError",
    "ReadinessReport",
    "RemoteError",
    "RetryPolicy",
    "SandboxUnavailable",
    "ServerError",
    "SessionLimitReached",
    "SessionNotFound",
    "Submission",
    "SubmissionError",
    "Verdict",
    "VerdictStatus",
    "__version__",
]
