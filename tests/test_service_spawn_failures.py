"""A process the sandbox cannot start (`SpawnFailed`) is the service's fault: an `internal`
verdict, never cached, whether it was a REPL worker or the audit's compiler or checker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from proofgate.exceptions import SpawnFailed
from proofgate.models import Submission, VerdictStatus
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from proofgate.service import CheckerService
from tests.standins.repl import standin_launcher
from tests.support.stack import make_stack

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


class FailsFor(ProcessGroupSpawner):
    """The unjailed spawner, failing (for real: a program that does not exist) the starts whose
    command line mentions `word`, until `healed`."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.healed = False
        self.failed = 0

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        if not self.healed and any(self.word in part for part in spec.argv):
            spec = replace(spec, argv=[str(spec.cwd / "no-such-program")])
        try:
            return await super().spawn(spec, limits)
        except SpawnFailed:
            self.failed += 1
            raise


async def _check_twice(tmp_path: Path, spawner: FailsFor) -> list[VerdictStatus]:
    stack = make_stack(tmp_path)
    service = CheckerService(
        stack.settings, spawner=spawner, launcher=standin_launcher(stack.settings)
    )
    await service.start()
    try:
        first = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert first.status is VerdictStatus.internal, first.reason
        assert spawner.failed >= 1
        spawner.healed = True
        again = await service.check(Submission(statement=STATEMENT, code=HONEST))
        assert not again.cached  # the internal verdict was not kept
        return [first.status, again.status]
    finally:
        await service.close()


async def test_a_worker_the_sandbox_cannot_start_is_an_internal_verdict(tmp_path: Path) -> None:
    statuses = await _check_twice(tmp_path, FailsFor("simulated_repl"))
    assert statuses == [VerdictStatus.internal, VerdictStatus.proved]


async def test_a_checker_the_sandbox_cannot_start_is_an_internal_verdict(tmp_path: Path) -> None:
    statuses = await _check_twice(tmp_path, FailsFor("compiler.py"))
    assert statuses == [VerdictStatus.internal, VerdictStatus.proved]
