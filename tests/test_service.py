"""The checking pipeline end to end on stand-ins: policy, pool, audit, verdict, cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from proofgate import service as service_module
from proofgate.config import Settings
from proofgate.environments import registry
from proofgate.environments.registry import Environment
from proofgate.exceptions import NotReady, SubmissionError
from proofgate.lean import pool as pool_module
from proofgate.lean.pool import ReplPool, ReplRun
from proofgate.models import Submission, TriageRequest, VerdictStatus
from proofgate.service import CheckerService
from tests.standins.repl import standin_launcher
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


async def test_environment_and_timeout_are_resolved_once_and_passed_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, item 7: the service looks the environment up and clamps the timeout once; the
    pool takes both as given (it looks nothing up), on the check path and the triage path alike."""
    lookups: list[str] = []

    def counting(settings: Settings) -> dict[str, Environment]:
        lookups.append("discover")
        return registry.discover_environments(settings)

    monkeypatch.setattr(service_module, "discover_environments", counting)
    monkeypatch.setattr(pool_module, "discover_environments", counting)
    runs: list[tuple[Environment | None, float | None]] = []
    original = ReplPool.run

    async def recording(self: ReplPool, code: str, **options: Any) -> ReplRun:
        runs.append((options.get("environment"), options.get("timeout")))
        return await original(self, code, **options)

    monkeypatch.setattr(ReplPool, "run", recording)
    async with running_service(make_stack(tmp_path, request_timeout=10.0)) as service:
        assert lookups == ["discover"]  # the service's start, and nothing else from here on
        default = service.environment("default")
        over = await service.check(Submission(code=HONEST, timeout=3600))
        under = await service.check(Submission(code=HONEST + "\n-- again\n", timeout=2.5))
        triaged = await service.triage(
            TriageRequest(statement=STATEMENT.replace("t1", "t2"), closers=["omega"])
        )
    assert over.status is VerdictStatus.compiled and under.status is VerdictStatus.compiled
    assert triaged.elaboration == "ok"
    assert lookups == ["discover"]
    assert all(environment is default for environment, _ in runs)
    assert [timeout for _, timeout in runs[:3]] == [10.0, 2.5, 10.0]  # check, check, elaboration
    assert service.timeout(3600) == service.timeout() == service.timeout(None) == 10.0


async def test_readiness_reasons_are_the_doctors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/readyz`'s reasons come from `readiness_reasons` (what `proofgate doctor` gives), asked
    with what this service needs Lean for; a service given a spawner is asked only about Lean."""
    asked: list[tuple[str, bool, bool]] = []

    def reasons(
        settings: Settings, environment: Environment, *, repl: bool = True, audit: bool = True
    ) -> list[str]:
        asked.append((environment.name, repl, audit))
        return ["the sandbox and Lean: see the doctor"]

    monkeypatch.setattr(service_module, "readiness_reasons", reasons)
    stack = make_stack(tmp_path)
    own_sandbox = CheckerService(stack.settings, launcher=standin_launcher(stack.settings))
    await own_sandbox.start()
    try:
        assert own_sandbox.readiness().reasons == ["the sandbox and Lean: see the doctor"]
        assert asked == [("default", False, False)]  # a launcher and checker commands given
    finally:
        await own_sandbox.close()
    async with running_service(stack) as given_spawner:
        assert given_spawner.readiness().ready and len(asked) == 1


async def test_a_free_compile_without_its_target_is_failed_without_lean(tmp_path: Path) -> None:
    service = CheckerService(make_stack(tmp_path).settings)  # no stand-ins: the backend is missing
    await service.start()
    try:
        assert not service.readiness().ready
        code = "import Mathlib\n\ntheorem t : True := trivial\n"
        verdict = await service.check(Submission(code=code, target="nope"))
        assert verdict.status is VerdictStatus.failed, verdict.reason
        assert "target_missing" in [m.category for m in verdict.messages]
    finally:
        await service.close()


async def test_the_locked_statement_is_compiled_alone_never_by_a_pooled_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22's requirement 5: the reference comes from a fresh compile of the statement's own
    text, cached; the pooled REPL workers, which submissions run code in, only ever see
    submissions."""
    pooled: list[str] = []
    run = ReplPool.run

    async def recording_run(self: ReplPool, code: str, **options: Any) -> ReplRun:
        pooled.append(code)
        return await run(self, code, **options)

    monkeypatch.setattr(ReplPool, "run", recording_run)
    stack = make_stack(tmp_path)
    async with running_service(stack) as service:
        for proof in ("Nat.add_comm a b", "by rw [Nat.add_comm]"):
            verdict = await service.check(Submission(statement=STATEMENT, proof=proof))
            assert verdict.status is VerdictStatus.proved, verdict.reason
    assert len(pooled) == 2 and all("sorry" not in code for code in pooled)
    (reference,) = (stack.settings.data_dir / "references").iterdir()  # one, for both checks
    record = json.loads((reference / "ProofgateSubmission.olean").read_bytes().split(b"\n", 1)[1])
    assert record["source_sha256"] == hashlib.sha256(STATEMENT.encode()).hexdigest()
    assert (reference / "ProofgateSubmission.lean").read_text(encoding="utf-8") == STATEMENT
