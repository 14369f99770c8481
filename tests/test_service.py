"""The checking pipeline end to end on stand-ins: policy, pool, audit, verdict, cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofgate.exceptions import NotReady, SubmissionError
from proofgate.models import Submission, VerdictStatus
from proofgate.service import CheckerService
from tests.support.stack import make_stack, running_service

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


async def test_honest_locked_check_is_proved_and_then_cached(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    async with running_service(stack) as service:
        first = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert first.status is VerdictStatus.proved, first.reason
        assert first.target == "t1" and first.axioms == ["propext"] and not first.cached
        assert first.pins is not None and first.pins.lean == "v4.32.0"
        again = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert again.cached and again.status is VerdictStatus.proved


async def test_proof_field_is_assembled_into_the_statement(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, proof="Nat.add_comm a b"))
        assert verdict.status is VerdictStatus.proved, verdict.reason


async def test_sorry_reached_by_the_target_is_incomplete(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.scenario(axioms=["propext", "sorryAx"])
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert verdict.status is VerdictStatus.incomplete, verdict.reason


async def test_forbidden_axiom_is_a_violation(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.scenario(axioms=["propext", "cheat"])
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert verdict.status is VerdictStatus.axiom_violation, verdict.reason


async def test_lean_error_is_failed_with_feedback_and_skips_the_audit(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.scenario(mode="crash")  # the audit would be `internal` if it ran
    code = HONEST.replace(
        "Nat.add_comm a b", "by\n  -- standin: error unknown identifier 'foo'\n  exact foo"
    )
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, code=code))
        assert verdict.status is VerdictStatus.failed, verdict.reason
        assert any("unknown identifier" in m.text for m in verdict.messages)


async def test_broken_checker_is_internal_and_not_cached(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.scenario(mode="garbage")
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert verdict.status is VerdictStatus.internal
        stack.scenario()
        again = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert again.status is VerdictStatus.proved and not again.cached


async def test_hanging_submission_times_out(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, request_timeout=1.0)
    code = HONEST + "-- standin: hang\n"
    async with running_service(stack) as service:
        verdict = await service.check(Submission(statement=STATEMENT, code=code))
        assert verdict.status is VerdictStatus.timeout, verdict.reason


async def test_policy_refusal_needs_no_lean(tmp_path: Path) -> None:
    service = CheckerService(make_stack(tmp_path).settings)  # no stand-ins: the backend is missing
    await service.start()
    try:
        assert not service.readiness().ready
        refused = await service.check(Submission(code="import Mathlib\n#eval IO.Process.exit 0\n"))
        assert refused.status is VerdictStatus.rejected and refused.violations
        with pytest.raises(NotReady) as info:
            await service.check(Submission(code=HONEST))
        assert "v4.32.0" in str(info.value)
    finally:
        await service.close()


async def test_unknown_environment_names_the_field(tmp_path: Path) -> None:
    async with running_service(make_stack(tmp_path)) as service:
        with pytest.raises(SubmissionError) as info:
            await service.check(Submission(code=HONEST, environment="nope"))
        assert info.value.field == "environment"
