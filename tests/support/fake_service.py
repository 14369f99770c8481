"""A stand-in for `CheckerService` (same method names) to test the fronts without the pipeline.

It judges by plain text markers, which is enough to exercise every path of the HTTP layer, the
client and the CLI: `#exit` -> rejected, `sorry` -> incomplete, `error` -> failed, `hang` ->
timeout, anything else -> proved/compiled. `raises` makes the next checks raise instead. `inside`
counts the checks in progress and `gate` holds them there until the test opens it, so a test sees
requests overlap (or queue) as events, not as durations.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from proofgate.models import (
    Category,
    Message,
    Pins,
    Position,
    Severity,
    Submission,
    Verdict,
    VerdictStatus,
    Violation,
)
from proofgate.models.tenant import LOCAL
from proofgate.service import Readiness

PINS = Pins(lean="v4.32.0", mathlib="81a5d257", repl="v4.32.0", proofgate="0.1.0", checker="fake")


def judge(submission: Submission) -> Verdict:
    """The fake's verdict: a pure function of the submission, like the real one."""
    text = "\n".join(
        part for part in (submission.statement, submission.code, submission.proof) if part
    )
    kind = "check" if submission.is_locked else "compile"
    common = {
        "kind": kind,
        "target": submission.target,
        "pins": PINS,
        "content_hash": submission.content_hash(),
    }
    if "#exit" in text:
        line = text[: text.index("#exit")].count("\n") + 1
        return Verdict(
            status=VerdictStatus.rejected,
            reason="`#exit` is not allowed",
            violations=[Violation(rule="exit", line=line, column=0, message="`#exit` is refused")],
            **common,
        )
    if "error" in text:
        return Verdict(
            status=VerdictStatus.failed,
            reason="Lean reported an error",
            messages=[
                Message(
                    severity=Severity.error,
                    category=Category.unknown_identifier,
                    text="unknown identifier 'error'",
                    pos=Position(line=1, column=0),
                )
            ],
            feedback="theorem t : 1 = 1 := error\n-- ^ error: unknown identifier 'error'",
            **common,
        )
    if "hang" in text:
        return Verdict(status=VerdictStatus.timeout, reason="ran past 1s", **common)
    if (
        "sorry" in text
        and submission.is_locked
        and submission.proof
        and "sorry" in submission.proof
    ):
        return Verdict(status=VerdictStatus.incomplete, reason="the proof uses sorry", **common)
    status = VerdictStatus.proved if submission.is_locked else VerdictStatus.compiled
    return Verdict(status=status, reason="all checks passed", **common)


@dataclass
class FakeCheckerService:
    """Same surface as `CheckerService`: start/close, timeout, readiness, environments, check."""

    ready: bool = True
    reasons: list[str] = field(default_factory=list)
    raises: BaseException | None = None
    delay: float = 0.0
    started: bool = False
    closed: bool = False
    seen: list[Submission] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)  # the tenant of each check, in order
    #: Checks in progress now, and the most there ever were at once.
    inside: int = 0
    most_inside: int = 0
    #: When set, each check waits inside until a test opens it (a threading.Event: the test runs
    #: in another thread than the server); one never opened fails the check after `gate_timeout`.
    gate: threading.Event | None = None
    gate_timeout: float = 60.0
    #: The limit `timeout` caps a request's own seconds at (the settings' `request_timeout`).
    request_timeout: float = 60.0

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    def timeout(self, requested: float | None = None) -> float:
        """As `CheckerService.timeout`: the request's own seconds, capped by the limit."""
        return min(requested or self.request_timeout, self.request_timeout)

    def readiness(self) -> Readiness:
        return Readiness(
            ready=self.ready, reasons=list(self.reasons), sandbox="bwrap", pool={"workers": 2}
        )

    def environments(self) -> list[dict[str, object]]:
        return [
            {
                "name": "default",
                "toolchain": "leanprover/lean4:v4.32.0",
                "lean": "v4.32.0",
                "mathlib": "81a5d257c8e410db227a6665ed08f64fea08e997",
                "repl": "abc",
                "packages": {"mathlib": "81a5d257c8e410db227a6665ed08f64fea08e997"},
            }
        ]

    async def check(self, submission: Submission, *, tenant: str = LOCAL) -> Verdict:
        self.seen.append(submission)
        self.tenants.append(tenant)
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            if self.gate is not None and not await asyncio.to_thread(
                self.gate.wait, self.gate_timeout
            ):
                raise RuntimeError(f"the test did not open the gate within {self.gate_timeout} s")
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.raises is not None:
                raise self.raises
            return judge(submission)
        finally:
            self.inside -= 1


@dataclass
class FakeServiceWithPool(FakeCheckerService):
    """The fake, plus the optional `pool_stats()` the metrics and `/readyz` read."""

    stats: Mapping[str, object] = field(
        default_factory=lambda: {
            "queue_depth": 3,
            "busy": 2,
            "idle": 1,
            "restarts": {"timeout": 4, "crash": 1},
            "warm_headers": 2,
        }
    )

    def pool_stats(self) -> Mapping[str, object]:
        return self.stats
