"""The request the bench's audit-model tests judge (tests/bench/test_*_audit_model.py): one
statement, the axioms Mathlib's proofs use."""

from __future__ import annotations

from proofgate.verify.audit import AuditRequest

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : Nat) : a + b = b + a := by sorry\n"


def request(environment: object, code: str) -> AuditRequest:
    return AuditRequest(
        environment=environment,  # type: ignore[arg-type]
        statement=STATEMENT,
        code=code,
        target="t1",
        allowed_axioms=("propext", "Classical.choice", "Quot.sound"),
    )
