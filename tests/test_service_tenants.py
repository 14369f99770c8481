"""Tenants in the service (issue 23, items 1 and 5): whose workers run a check, and which cached
verdicts another tenant may be served. On the stand-in REPL and checker."""

from __future__ import annotations

from pathlib import Path

from proofgate.models import Category, Submission, VerdictStatus
from tests.support.stack import make_stack, running_service

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
FORGED = "forged: unknown identifier 'Nat.add_comm'"


async def test_a_taken_over_worker_never_changes_another_tenants_verdict(tmp_path: Path) -> None:
    honest = Submission(statement=STATEMENT, code=HONEST)
    async with running_service(make_stack(tmp_path)) as service:
        # The attacker's submission takes its worker over: every later reply carries a forged error.
        attack = Submission(code=f"import Mathlib\n-- standin: taken-over {FORGED}\n")
        await service.check(attack, tenant="attacker")
        forged = await service.check(honest, tenant="attacker")
        assert forged.status is VerdictStatus.failed  # the attack worked on its own worker...
        assert any(FORGED in m.text for m in forged.messages), forged.messages
        again = await service.check(honest, tenant="attacker")
        assert again.status is VerdictStatus.failed and again.cached  # cached for it alone
        victim = await service.check(honest, tenant="victim")
        assert victim.status is VerdictStatus.proved and not victim.cached, victim.reason
        assert not any(FORGED in m.text for m in victim.messages)
        # The victim's audited verdict is the one every tenant is served from now on.
        for tenant in ("third", "attacker"):
            shared = await service.check(honest, tenant=tenant)
            assert shared.status is VerdictStatus.proved and shared.cached, tenant


async def test_what_a_pooled_worker_decided_is_cached_for_its_tenant_only(tmp_path: Path) -> None:
    failing = Submission(
        statement=STATEMENT,
        code=HONEST.replace("Nat.add_comm a b", "by\n  -- standin: error nope\n  exact foo"),
    )
    async with running_service(make_stack(tmp_path)) as service:
        first = await service.check(failing, tenant="tenant-a")
        assert first.status is VerdictStatus.failed and not first.cached
        assert (await service.check(failing, tenant="tenant-a")).cached
        other = await service.check(failing, tenant="tenant-b")
        assert other.status is VerdictStatus.failed and not other.cached


async def test_an_audited_verdict_with_worker_messages_stays_with_its_tenant(
    tmp_path: Path,
) -> None:
    noted = Submission(statement=STATEMENT, code=HONEST + "-- standin: warning from the worker\n")
    async with running_service(make_stack(tmp_path)) as service:
        first = await service.check(noted, tenant="tenant-a")
        assert first.status is VerdictStatus.proved, first.reason
        assert any("from the worker" in m.text for m in first.messages)
        assert (await service.check(noted, tenant="tenant-a")).cached
        assert not (await service.check(noted, tenant="tenant-b")).cached


async def test_a_submission_that_kills_its_worker_twice_alike_is_failed_killed_worker(
    tmp_path: Path,
) -> None:
    killer = Submission(statement=STATEMENT, code=HONEST + "-- standin: signal 11\n")
    async with running_service(make_stack(tmp_path)) as service:
        verdict = await service.check(killer, tenant="tenant-a")
        assert verdict.status is VerdictStatus.failed, verdict.reason
        assert "killed its Lean worker" in verdict.reason and "signal 11" in verdict.reason
        assert [m.category for m in verdict.messages if m.severity == "error"] == [
            Category.killed_worker
        ]
        assert (await service.check(killer, tenant="tenant-a")).cached  # not retried again
        assert not (await service.check(killer, tenant="tenant-b")).cached  # its tenant's only
        assert service.pool_stats() is not None and service.pool_stats().retries == 2


async def test_a_worker_killed_once_or_two_different_ways_is_internal(tmp_path: Path) -> None:
    flag = tmp_path / "killed-once"
    once = Submission(statement=STATEMENT, code=HONEST + f"-- standin: signal-once {flag} 9\n")
    other = tmp_path / "then-crash"
    differently = Submission(
        statement=STATEMENT, code=HONEST + f"-- standin: signal-once {other} 9\n-- standin: crash\n"
    )
    async with running_service(make_stack(tmp_path)) as service:
        recovered = await service.check(once)
        assert recovered.status is VerdictStatus.proved and flag.exists(), recovered.reason
        verdict = await service.check(differently)
        assert other.exists() and verdict.status is VerdictStatus.internal, verdict.reason
        assert not (await service.check(differently)).cached
