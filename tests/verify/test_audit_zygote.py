"""`/v1/check` by zygote children (`audit_compiler=zygote`, docs/audit-design.md step 8) through
the whole service, on stand-ins: the stand-in zygote (tests/standins/zygote.py --scenario) imports
the header once and forks a child per check, whose reply is the feedback and whose export the warm
stand-in checker judges. No REPL worker serves these checks.

What must hold: an honest proof is `proved` with the reference made by a child too; an error and a
`sorry` come back as the REPL would say them, placed in the submitted text; a wrong statement is
not proved; a statement that does not elaborate is the statement's fault; a child past its time is
`timeout` and the zygote serves on; one zygote (one import) serves every check of a header; a
statement's child (its reference) waits behind no check's proof."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.environments.registry import Environment
from proofgate.exceptions import ReplCrashed, SubmissionError
from proofgate.lean.header import split_header
from proofgate.lean.zygote import ChildOutcome
from proofgate.models import Submission, VerdictStatus
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from proofgate.verify.audit import Auditor, AuditRequest
from proofgate.verify.contract import AuditOutcome, CompileFailure, ExportAuditReport
from proofgate.verify.warm_audit import REFERENCE_EXPORT
from proofgate.verify.zygote_audit import children_at_most, elaborated
from tests.support.stack import STANDINS, Stack, make_stack, running_service
from tests.support.waiting import DEADLINE_SECONDS, until_async

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
PROOF = "by exact Nat.add_comm a b"
#: Leaves one empty file named by its pid for each start of a program, then becomes it (counts
#: zygote starts; a zygote may not write a byte to any file, but may still make an empty one).
COUNTING = """
import os, sys
starts, *argv = sys.argv[1:]
open(os.path.join(starts, str(os.getpid())), "x").close()
os.execv(argv[0], argv)
"""


def zygote_stack(tmp_path: Path, *, count_starts: Path | None = None, **overrides: Any) -> Stack:
    command = f"{sys.executable} {STANDINS / 'zygote.py'} --scenario {tmp_path / 'scenario.json'}"
    if count_starts is not None:
        wrapper = tmp_path / "count.py"
        wrapper.write_text(COUNTING, encoding="utf-8")
        command = f"{sys.executable} {wrapper} {count_starts} {command}"
    options: dict[str, Any] = {
        "audit_checker": "warm",
        "audit_compiler": "zygote",
        "checkers": 1,
        "cache_enabled": False,
        "audit_check_timeout": 5.0,
        "zygote_command": command,
    }
    options.update(overrides)
    return make_stack(tmp_path, **options)


def code_submission(code: str, **fields: Any) -> Submission:
    return Submission(statement=STATEMENT, code=code, target="t1", **fields)


def pool_requests(service: CheckerService) -> int:
    stats = service.pool_stats()
    assert stats is not None
    return stats.requests


async def test_an_honest_proof_is_proved_without_a_repl_worker(tmp_path: Path) -> None:
    stack = zygote_stack(tmp_path)
    async with running_service(stack) as service:
        first = await service.check(Submission(statement=STATEMENT, proof=PROOF, target="t1"))
        second = await service.check(
            Submission(statement=STATEMENT, proof="by rw [Nat.add_comm]", target="t1")
        )
        assert pool_requests(service) == 0, "a REPL worker served a /v1/check"
        zygotes = service.readiness().pool["zygotes"]
        assert zygotes == {"live": 1, "started": 1, "children": 0, "waiting": 0}, zygotes
    assert first.status is VerdictStatus.proved, first.reason
    assert second.status is VerdictStatus.proved, second.reason
    (reference,) = (stack.settings.data_dir / "references").iterdir()
    assert {p.name for p in reference.iterdir()} == {"reference.json", REFERENCE_EXPORT}
    assert not any((stack.settings.data_dir / "audit").iterdir()), "scratch left behind"


async def test_an_error_is_the_childs_message_placed_in_the_submitted_text(
    tmp_path: Path,
) -> None:
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by\n"
        "  simp_all\n-- standin: error simp_all made no progress\n"
    )
    async with running_service(zygote_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.failed, verdict.reason
    (error,) = [m for m in verdict.messages if m.severity == "error"]
    # the body the child was given starts after the header: line 5 is the submitted line
    assert error.pos is not None
    assert (error.pos.line, error.text) == (5, "simp_all made no progress")


async def test_a_sorry_comes_back_with_its_goal(tmp_path: Path) -> None:
    # the child reports the sorry (feedback); the stand-in's export says what Lean's would: the
    # target reaches sorryAx (the stand-in checker's kernel does not read proofs)
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
        "-- standin-axioms: sorryAx\n"
    )
    async with running_service(zygote_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.incomplete, verdict.reason
    (sorry,) = verdict.sorries
    assert sorry.pos is not None and sorry.pos.line == 3, sorry
    assert sorry.goal.endswith("⊢ a + b = b + a"), sorry


async def test_a_wrong_statement_is_not_proved(tmp_path: Path) -> None:
    code = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = a + b := rfl\n"
    async with running_service(zygote_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.statement_mismatch, verdict.reason


async def test_a_statement_that_does_not_elaborate_is_the_statements_fault(
    tmp_path: Path,
) -> None:
    statement = STATEMENT + "-- standin: error unknown identifier 'Nat.foo'\n"
    stack = zygote_stack(tmp_path)
    async with running_service(stack) as service:
        with pytest.raises(
            SubmissionError, match=re.escape("unknown identifier 'Nat.foo'")
        ) as caught:
            await service.check(Submission(statement=statement, proof=PROOF, target="t1"))
    assert caught.value.field == "statement"
    assert not any((stack.settings.data_dir / "references").iterdir()), "a failure was cached"


async def test_a_child_past_its_time_is_a_timeout_and_the_zygote_serves_on(
    tmp_path: Path,
) -> None:
    starts = tmp_path / "starts"
    starts.mkdir()
    stack = zygote_stack(tmp_path, count_starts=starts)
    hanging = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by\n  -- standin: hang\n"
    async with running_service(stack) as service:
        late = await service.check(code_submission(hanging, timeout=1.0))
        honest = await service.check(Submission(statement=STATEMENT, proof=PROOF, target="t1"))
    assert late.status is VerdictStatus.timeout, late.reason
    assert honest.status is VerdictStatus.proved, honest.reason
    # one zygote, one import, for the reference and both checks
    assert len(list(starts.iterdir())) == 1


async def test_checks_side_by_side_each_get_their_own_child(tmp_path: Path) -> None:
    proofs = ["by exact Nat.add_comm a b", "by rw [Nat.add_comm]", "by omega", "by simp_all"]
    async with running_service(zygote_stack(tmp_path, workers=2)) as service:
        verdicts = await asyncio.gather(
            *(service.check(Submission(statement=STATEMENT, proof=p, target="t1")) for p in proofs)
        )
    assert [v.status for v in verdicts] == [VerdictStatus.proved] * len(proofs)


async def test_a_statements_child_waits_behind_no_checks_proof(tmp_path: Path) -> None:
    # one check's child at a time (workers=1), and one statement's beside it: a reference is
    # never queued behind proofs, while a second check does wait for the first
    stack = zygote_stack(tmp_path, workers=1)
    auditor = Auditor(stack.settings, spawner=ProcessGroupSpawner())
    zygotes = auditor._zygotes
    environment = CheckerService(stack.settings).environment("default")
    hanging = "import Mathlib\n\ntheorem t1 : True := by\n  -- standin: hang\n"
    try:
        holding = asyncio.ensure_future(
            zygotes.elaborate(environment, hanging, timeout=DEADLINE_SECONDS)
        )
        await until_async(lambda: zygotes.stats()["children"] == 1)
        queued = asyncio.ensure_future(
            zygotes.elaborate(environment, STATEMENT, timeout=DEADLINE_SECONDS)
        )
        await until_async(lambda: zygotes.stats()["waiting"] == 1)
        referencing = asyncio.ensure_future(
            zygotes.elaborate(environment, STATEMENT, timeout=DEADLINE_SECONDS, reference=True)
        )
        done, _ = await asyncio.wait(
            {holding, queued, referencing}, return_when=asyncio.FIRST_COMPLETED
        )
        assert done == {referencing}, "the statement's child waited behind the check's"
        assert not referencing.result().run.reply.has_errors
        assert zygotes.stats()["waiting"] == 1, "the second check did not wait for the first"
        holding.cancel()  # a check gone (its client left): the next one's child is served
        made = await queued
        assert made.export is not None and not made.run.reply.has_errors
    finally:
        await auditor.close()


async def test_the_prewarmed_header_is_imported_before_the_first_check(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    starts.mkdir()
    stack = zygote_stack(tmp_path, count_starts=starts, prewarm_headers=["import Mathlib"])
    async with running_service(stack) as service:
        await until_async(lambda: any(starts.iterdir()))  # started by the service, not a check
        verdict = await service.check(Submission(statement=STATEMENT, proof=PROOF, target="t1"))
    assert verdict.status is VerdictStatus.proved, verdict.reason
    assert len(list(starts.iterdir())) == 1


async def test_a_header_that_does_not_import_is_its_reply_kept_for_every_check(
    tmp_path: Path,
) -> None:
    # below the service (whose policy refuses modules outside the environment first)
    starts = tmp_path / "starts"
    starts.mkdir()
    stack = zygote_stack(tmp_path, count_starts=starts)
    auditor = Auditor(stack.settings, spawner=ProcessGroupSpawner())
    environment = CheckerService(stack.settings).environment("default")
    code = "import Mathlib\n\n  import   Standin.Missing.Thing\n\ntheorem x : True := trivial\n"
    try:
        first, second = [
            await auditor._zygotes.elaborate(environment, code, timeout=DEADLINE_SECONDS)
            for _ in range(2)
        ]
    finally:
        await auditor.close()
    for made in (first, second):
        assert made.run.header_failed and made.export is None
        (error,) = made.run.reply.errors
        assert error.pos is not None and (error.pos.line, error.pos.column) == (3, 2), error
        assert "Standin.Missing.Thing" in error.data
    assert len(list(starts.iterdir())) == 1, "a header that fails is not imported again"


async def test_a_zygote_that_died_is_started_again(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    starts.mkdir()
    stack = zygote_stack(tmp_path, count_starts=starts)
    async with running_service(stack) as service:
        first = await service.check(Submission(statement=STATEMENT, proof=PROOF, target="t1"))
        (zygote,) = (int(p.name) for p in starts.iterdir())
        os.kill(zygote, signal.SIGKILL)
        # the check that finds it dead may be `internal` (never a wrong verdict); the next one
        # gets a new zygote
        second = await service.check(
            Submission(statement=STATEMENT, proof="by rw [Nat.add_comm]", target="t1")
        )
        third = await service.check(Submission(statement=STATEMENT, proof="by omega", target="t1"))
    assert first.status is VerdictStatus.proved, first.reason
    assert second.status in (VerdictStatus.proved, VerdictStatus.internal), second.reason
    assert third.status is VerdictStatus.proved, third.reason
    assert len(list(starts.iterdir())) == 2


async def test_audit_alone_runs_the_child_for_callers_with_their_own_feedback(
    tmp_path: Path,
) -> None:
    # triage's probes ask `audit` after their own REPL run: with zygotes it is a child's too
    stack = zygote_stack(tmp_path)
    auditor = Auditor(stack.settings, spawner=ProcessGroupSpawner())
    environment = CheckerService(stack.settings).environment("default")

    def request(code: str) -> AuditRequest:
        return AuditRequest(environment, STATEMENT, code, "t1", allowed_axioms=("propext",))

    broken = STATEMENT.replace("by sorry", "by\n  simp\n-- standin: error simp failed")
    try:
        proved = await auditor.audit(request(STATEMENT.replace("by sorry", "Nat.add_comm a b")))
        failed = await auditor.audit(request(broken))
    finally:
        await auditor.close()
    assert isinstance(proved, ExportAuditReport) and proved.outcome is AuditOutcome.ok, proved
    assert isinstance(failed, CompileFailure), failed
    assert failed.messages == ["5:0: simp failed"]


async def test_a_child_over_its_memory_is_out_of_memory(tmp_path: Path) -> None:
    hog = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n-- zygote: grow 400\n"
    async with running_service(zygote_stack(tmp_path, memory_limit_mb=128)) as service:
        verdict = await service.check(code_submission(hog))
        honest = await service.check(Submission(statement=STATEMENT, proof=PROOF, target="t1"))
    assert verdict.status is VerdictStatus.out_of_memory, verdict.reason
    assert honest.status is VerdictStatus.proved, honest.reason


def test_the_zygotes_jail_lets_the_kernel_kill_one_child_not_its_siblings(tmp_path: Path) -> None:
    """A zygote's jail holds children of different requests: a child the kernel kills at the
    jail's memory cap dies alone (`tests/lean/test_zygote.py` shows it on this kernel), and the
    cap leaves room for the zygote and each child it may have."""
    stack = zygote_stack(tmp_path, memory_limit_mb=256, workers=2)
    environment = Environment(
        name="default", directory=tmp_path, toolchain="leanprover/lean4:v4.32.0", packages={}
    )
    auditor = Auditor(stack.settings, spawner=ProcessGroupSpawner())
    limits = auditor._zygote_launch(environment).limits
    assert limits.oom_group is False
    assert limits.member_cgroups is True  # each child then gets a compile's caps of its own
    assert limits.memory_bytes == (256 << 20) * (1 + children_at_most(stack.settings))
    assert limits.file_size_bytes == 0


@pytest.mark.parametrize(
    ("returncode", "said", "signal_number"),
    [(-signal.SIGABRT, "and ended by signal SIGABRT", signal.SIGABRT), (1, "and exited 1", None)],
)
def test_a_child_that_ended_at_its_task_cap_is_a_crash_that_says_so(
    returncode: int, said: str, signal_number: int | None
) -> None:
    """Its own cgroup's task cap met (`ChildOutcome.over_limit` "processes"), a child that could
    not go on is the submission's crash, named as such: not a bare signal or exit status."""
    outcome = ChildOutcome(reply=b"", export=b"", returncode=returncode, over_limit="processes")
    with pytest.raises(ReplCrashed, match=f"cap of processes and threads {said}$") as caught:
        elaborated(outcome, split_header(STATEMENT), timeout=1.0, queue_ms=0.0, run_ms=0.0)
    assert caught.value.signal == signal_number
