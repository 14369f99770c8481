"""What the audit is asked (`AuditRequest`) and what it answers (`AuditOutput`), and `Audits`, the
one method a service audits through (`verify/audit.py`'s `Auditor`, or a stand-in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from proofgate.environments.registry import Environment
from proofgate.verify.contract import AuditReport, CompileFailure, ExportAuditReport

__all__ = ["AuditOutput", "AuditRequest", "Audits"]


@dataclass(frozen=True)
class AuditRequest:
    """One audit: does `code` prove `target`, the last theorem of the locked `statement`, using only
    `allowed_axioms` (and filling `answer_holes`)? Without a statement (and target): a free compile,
    whose declarations may use only `allowed_axioms`."""

    environment: Environment
    statement: str | None
    code: str
    target: str | None
    answer_holes: tuple[str, ...] = ()
    allowed_axioms: tuple[str, ...] = ()


class Audits(Protocol):
    """What a service audits with: an `Auditor`, or a stand-in (`proofgate bench`'s simulated one)."""

    async def audit(
        self, request: AuditRequest
    ) -> AuditReport | ExportAuditReport | CompileFailure: ...


#: What one audit comes to: a checker's report (contract 1 or 2), or the submission's failure.
AuditOutput = AuditReport | ExportAuditReport | CompileFailure
