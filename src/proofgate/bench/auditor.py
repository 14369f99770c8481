"""The bench's auditors: the audit-off side (a SIMULATED `ok` that checks nothing) and the switch
between it and the audit model (the real `Auditor`, see `proofgate.bench.audit_model`).

`proofgate bench` injects `SwitchedAuditor` into `CheckerService(auditor=...)`. Nothing in the
settings can select either: only `proofgate.bench.server` constructs them, for a loopback server
whose verdicts never leave the bench (and whose cache lives in a temporary directory).
"""

from __future__ import annotations

import asyncio

from proofgate.bench.workload import AUDIT_OFF
from proofgate.environments.registry import Environment
from proofgate.lean.pool import ReplRun
from proofgate.verify.audit import AuditOutput, AuditRequest, Audits
from proofgate.verify.contract import (
    CHECKER_ID,
    CONTRACT_VERSION,
    AuditOutcome,
    AuditReport,
    DeclarationAudit,
)

__all__ = ["AUDIT_OFF", "SimulatedAuditor", "SwitchedAuditor"]


class SimulatedAuditor:
    """Duck-types `proofgate.verify.audit.Audits`; every report is `ok`, after `seconds`."""

    label = "simulated"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.audits = 0

    async def audit(self, request: AuditRequest) -> AuditReport:
        """An `ok` report for the target (as the real checker would print for an honest proof)."""
        if self.seconds > 0:
            await asyncio.sleep(self.seconds)
        self.audits += 1
        target = request.target
        declarations = (
            [DeclarationAudit(name=target, kind="theorem", axioms=[], replayed=True)]
            if target
            else []
        )
        return AuditReport(
            contract=CONTRACT_VERSION,
            checker=CHECKER_ID,
            lean=request.environment.lean_version,
            outcome=AuditOutcome.ok,
            detail="simulated audit (proofgate bench): nothing was checked",
            target=target,
            target_axioms=[],
            disallowed_axioms=[],
            declarations=declarations,
            answers={},
        )


class SwitchedAuditor:
    """The bench server's auditor: the real `Auditor` (the audit model) for every request, except
    those whose code carries `AUDIT_OFF`, which get the `SimulatedAuditor`'s 0 s `ok`. One server
    serves both sides of the comparison, on the same warm pool, side by side."""

    label = "model on, and off where a request says so"

    def __init__(self, real: Audits | None, off: SimulatedAuditor) -> None:
        self.real = real
        self.off = off

    async def prewarm(self, environment: Environment) -> None:
        prewarm = getattr(self.real, "prewarm", None)
        if prewarm is not None:
            await prewarm(environment)

    async def close(self) -> None:
        close = getattr(self.real, "close", None)
        if close is not None:
            await close()

    async def fresh_check(
        self, request: AuditRequest, *, timeout: float
    ) -> tuple[ReplRun, AuditOutput | None] | None:
        """The audit model's zygote path (`audit_compiler=zygote`), or None for the audit-off side,
        which the service then serves from its REPL pool (and `audit`'s 0 s `ok`)."""
        fresh = getattr(self.real, "fresh_check", None)
        if fresh is None or AUDIT_OFF in request.code:
            return None
        result: tuple[ReplRun, AuditOutput | None] = await fresh(request, timeout=timeout)
        return result

    async def audit(self, request: AuditRequest) -> AuditOutput:
        if self.real is None or AUDIT_OFF in request.code:
            return await self.off.audit(request)
        return await self.real.audit(request)
