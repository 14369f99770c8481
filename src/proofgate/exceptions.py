"""Every error proofgate raises, under one base.

ProofgateError
 +-- ConfigError               bad settings or a usage mistake the user can fix
 +-- SubmissionError           the submission itself is malformed (not a proof failure)
 +-- NotReady                  the service cannot verify right now (no toolchain, no sandbox)
 |    +-- LeanUnavailable      the pinned toolchain or Mathlib is missing
 |    +-- SandboxUnavailable   no working sandbox, and no explicit opt-out
 +-- Busy                      the pool is saturated: retry later
 |    +-- TenantBusy           one tenant's own share of the queue is full (HTTP 429)
 +-- SetupError                `proofgate setup` could not finish
 +-- SpawnFailed               a spawner could not start a process, or it died before its exec
 +-- ReplError                 a REPL worker misbehaved (the service's fault, retried once)
 |    +-- ReplCrashed          the process exited or was killed mid-request
 |    |    +-- WorkerKilled    killed by the same signal on its retry: the submission's doing
 |    +-- ReplProtocolError    unparsable, forged or unexpected output
 |    +-- ReplTimeout          the request ran past its wall-clock limit (the submission's outcome)
 |    +-- ReplOutOfMemory      the worker went over its memory cap (the submission's outcome)
 |    +-- ReplCommandError     the REPL answered `{"message": ...}` (e.g. "Unknown environment.")
 +-- AuditError                the trusted checker crashed, hung or broke its contract
 |    +-- ZygoteFailed         a zygote did not start, broke its protocol or could not fork
 +-- StoreError                the SQLite store failed
 +-- JobNotFound               no such batch job (or item) for this caller
 +-- SessionError              a proof session cannot serve the request
 |    +-- SessionNotFound      no such session (unknown, expired, closed, another key's) or state
 |    +-- SessionLimitReached  the key already has as many open sessions as it may
 +-- RemoteError               a server's answer was an error (carries its status and request id)
      +-- ClientError          the server refused a client's request (4xx): fix the request
      +-- ServerError          the server failed, answered nonsense, or could not be reached
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

__all__ = [
    "AuditError",
    "Busy",
    "ClientError",
    "ConfigError",
    "JobNotFound",
    "LeanUnavailable",
    "NotReady",
    "ProofgateError",
    "RemoteError",
    "ReplCommandError",
    "ReplCrashed",
    "ReplError",
    "ReplOutOfMemory",
    "ReplProtocolError",
    "ReplTimeout",
    "SandboxUnavailable",
    "ServerError",
    "SessionError",
    "SessionLimitReached",
    "SessionNotFound",
    "SetupError",
    "SpawnFailed",
    "StoreError",
    "SubmissionError",
    "TenantBusy",
    "WorkerKilled",
    "ZygoteFailed",
]


class ProofgateError(Exception):
    """Base of every proofgate error."""


class ConfigError(ProofgateError):
    """Settings or arguments are wrong; the message says which and how to fix it."""


class SubmissionError(ProofgateError):
    """The submission is malformed: `field` names what was wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotReady(ProofgateError):
    """The service cannot verify right now; `reason` tells an operator what to do."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class LeanUnavailable(NotReady):
    """The pinned Lean toolchain, Mathlib or the REPL binary is missing."""


class SandboxUnavailable(NotReady):
    """No working sandbox, and the operator did not opt out explicitly."""


class Busy(ProofgateError):
    """Every worker is busy and the queue is full (or the wait ran out)."""

    #: The shortest wait before asking again: a Retry-After of 0 must not make the caller spin.
    min_wait: ClassVar[float] = 0.05

    def __init__(self, message: str = "all workers are busy", *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    async def wait(self, *, cap: float = 5.0) -> None:
        """Sleep as this answer asks before the next try: `retry_after` seconds, at least
        `min_wait`, at most `cap` (the caller's patience between two tries)."""
        await asyncio.sleep(min(max(self.retry_after, self.min_wait), cap))


class TenantBusy(Busy):
    """One tenant's own share is used up (its queue is full while others are served): 429."""


class SetupError(ProofgateError):
    """`proofgate setup` could not fetch or build something; nothing half-done is left."""


class SpawnFailed(ProofgateError):
    """A spawner (`proofgate.sandbox`) could not start a process: the program or the jail could not
    be executed, or the child died between fork and exec (its rlimits, its cgroup). The sandbox's
    own error: `proofgate.lean` answers it as a worker that could not start. `killed`: a signal
    ended the child before the program ran (an operator, the OOM killer), not a refusal."""

    def __init__(self, message: str, *, killed: bool = False) -> None:
        super().__init__(message)
        self.killed = killed


class ReplError(ProofgateError):
    """A REPL worker failed. `stderr` keeps the tail of its diagnostics."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class ReplCrashed(ReplError):
    """The worker exited or was killed while a request was in flight; `signal` is the signal
    that ended it, when it ended by one before proofgate killed it."""

    def __init__(self, message: str, *, stderr: str = "", signal: int | None = None) -> None:
        super().__init__(message, stderr=stderr)
        self.signal = signal


class WorkerKilled(ReplCrashed):
    """The same submission's worker died by the same signal on its retry as on its first try:
    the submission kills its worker (a `failed` verdict, category `killed_worker`), and it is not
    retried again."""


class ReplProtocolError(ReplError):
    """The worker printed something that is not exactly one expected reply."""


class ReplTimeout(ReplError):
    """The request ran past its wall-clock limit; the worker was killed."""


class ReplOutOfMemory(ReplError):
    """The worker went over its memory cap; it was killed."""


class ReplCommandError(ReplError):
    """The REPL rejected a command with `{"message": ...}`."""


class AuditError(ProofgateError):
    """The trusted checker crashed, timed out or broke its JSON contract: never a pass."""


class StoreError(ProofgateError):
    """The SQLite store failed."""


class JobNotFound(ProofgateError):
    """The batch job (or one of its items) does not exist for this caller: a job is visible only
    under the API key that made it."""


class SessionError(ProofgateError):
    """A proof session (`proofgate.sessions`) cannot serve the request."""


class SessionNotFound(SessionError):
    """The session (or one of its states) does not exist for this caller: unknown, expired after
    its idle TTL, closed, or owned by another API key. Open a new session."""


class SessionLimitReached(SessionError):
    """The caller already holds its maximum of open sessions: close one (or let one expire)."""


class RemoteError(ProofgateError):
    """A proofgate server's request failed: the HTTP status (None when no answer came) and the
    request id to quote to the server's operator."""

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class ClientError(RemoteError):
    """The server refused the request (4xx other than 422, e.g. 413 too large, 429 over quota)."""


class ServerError(RemoteError):
    """The server failed (5xx), answered something unreadable, timed out or could not be reached."""


class ZygoteFailed(AuditError):
    """An elaboration zygote (`proofgate.lean.zygote`) did not start, broke its protocol, or could
    not fork a child: the audit's own fault (an `internal` verdict), never the submission's."""
