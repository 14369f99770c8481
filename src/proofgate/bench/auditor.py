"""The bench-only SIMULATED audit: answers `ok` after a set delay and checks nothing.

`proofgate bench` injects it into `CheckerService(auditor=...)` so the HTTP path runs policy, cache,
pool and verdict for real without a Lean checker; its output labels the audit "simulated". Nothing
in the settings can select it: only `proofgate.bench.server` constructs it, for a loopback server
whose verdicts never leave the bench (and whose cache lives in a temporary directory).
"""

from __future__ import annotations

import asyncio

from proofgate.verify.audit import AuditRequest
from proofgate.verify.contract import (
    CHECKER_ID,
    CONTRACT_VERSION,
    AuditOutcome,
    AuditReport,
    DeclarationAudit,
)

__all__ = ["SimulatedAuditor"]


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
