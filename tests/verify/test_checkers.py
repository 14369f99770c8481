"""The warm checkers (src/proofgate/verify/checkers.py) driving the stand-in checker's serve mode
(tests/standins/export_checker.py): a checker over a limit is killed and replaced and its answer
never used, other checks go on meanwhile, restarts import once, recycling, close.

Bounded in time: each test waits on a condition (a process's exit, a counter), never on how long
something took; the only deadlines are the ones under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proofgate.exceptions import NotReady
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits, ManagedProcess, SpawnSpec
from proofgate.verify.checkers import (
    Checkers,
    CheckerStats,
    CheckFailure,
    CheckRequest,
    CheckResult,
    _Checker,
)
from proofgate.verify.contract import ExportAuditReport, parse_report
from tests.standins.exporter import Exporter

STANDINS = Path(__file__).resolve().parents[1] / "standins"
EXPORT_CHECKER = STANDINS / "export_checker.py"
AXIOMS = ("propext", "Classical.choice", "Quot.sound")
ROOTS = ("Init", "Mathlib")
#: Bound on every wait for a condition; never reached when the code works.
WAIT_SECONDS = 30.0
#: The deadline of checks that must not hit it.
GENEROUS = 60.0
#: The deadline of checks that are meant to pass it (a hang, a late answer).
SHORT = 0.5


def statement(e: Exporter) -> int:
    """∀ n : Nat, n + 0 = n"""
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    return e.forall("n", nat, e.app(e.const("Eq", 1), nat, e.app(add, e.nat(0)), e.bvar(0)))


def reference() -> bytes:
    e = Exporter()
    e.theorem("t1", statement(e), e.app(e.const("sorryAx"), e.const("Nat")))
    return e.export()


def submission(marker: str | None = None) -> bytes:
    """An honest proof of t1; with a marker, also `theorem «marker» : True := True.intro`."""
    e = Exporter()
    proof = e.lam("n", e.const("Nat"), e.app(e.const("Nat.add_zero"), e.bvar(0)))
    e.theorem("t1", statement(e), proof)
    if marker is not None:
        e.theorem(marker, e.const("True"), e.const("True.intro"))
    return e.export()


IMPORTED = {
    "Nat": "definition", "HAdd.hAdd": "definition", "instHAdd": "definition", "Eq": "definition",
    "Nat.add_zero": "theorem", "sorryAx": "axiom", "propext": "axiom", "True": "definition",
    "True.intro": "definition",
}  # fmt: skip


@dataclass
class Files:
    dir: Path
    scenario: Path
    import_log: Path
    gate: Path
    reference: Path

    def request(self, marker: str | None = None) -> CheckRequest:
        path = self.dir / f"sub-{marker or 'honest'}.ndjson"
        path.write_bytes(submission(marker))
        return CheckRequest(
            submission=path,
            reference=self.reference,
            target="t1",
            axioms=AXIOMS,
            module_roots=ROOTS,
        )

    def imports(self) -> list[int]:
        """The pids that imported, one line per import."""
        if not self.import_log.exists():
            return []
        return [int(line) for line in self.import_log.read_text().split()]


@pytest.fixture
def files(tmp_path: Path) -> Files:
    constants = [
        {"name": name, "kind": kind, "level_params": [], "type": "", "constant": "",
         "axioms": ["propext"] if name == "Nat.add_zero" else []}
        for name, kind in IMPORTED.items()
    ]  # fmt: skip
    (tmp_path / "simulated-imports.json").write_text(json.dumps({"constants": constants}))
    scenario = tmp_path / "scenario.json"
    scenario.write_text("{}")
    ref = tmp_path / "ref.ndjson"
    ref.write_bytes(reference())
    return Files(tmp_path, scenario, tmp_path / "imports.log", tmp_path / "late.gate", ref)


class DeferredKill:
    """A process whose kill waits for the test's word: a condemned checker stays alive and can
    still write (the window between condemning a checker and its death)."""

    def __init__(self, inner: ManagedProcess) -> None:
        self.inner = inner
        self.kill_asked = False
        self.released = False

    def kill(self) -> None:
        self.kill_asked = True
        if self.released:
            self.inner.kill()

    def release(self) -> None:
        self.released = True
        self.inner.kill()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Recording:
    """The unjailed spawner, remembering every process; the first `defer_kill` get `DeferredKill`."""

    name = "recording"

    def __init__(self, *, defer_kill: int = 0) -> None:
        self.inner = ProcessGroupSpawner()
        self.processes: list[Any] = []
        self._defer = defer_kill

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        process: Any = await self.inner.spawn(spec, limits)
        if len(self.processes) < self._defer:
            process = DeferredKill(process)
        self.processes.append(process)
        return process  # type: ignore[no-any-return]


def pool(files: Files, spawner: Recording, *serve: str, **options: Any) -> Checkers:
    argv = [
        sys.executable,
        str(EXPORT_CHECKER),
        str(files.scenario),
        "--serve",
        "--import",
        "Mathlib",
    ]
    argv += ["--import-log", str(files.import_log), "--late-gate", str(files.gate), *serve]
    spec = SpawnSpec(argv=argv, cwd=files.dir, env=dict(os.environ))
    options.setdefault("start_timeout", WAIT_SECONDS)
    return Checkers(Launch(spawner, spec, Limits(max_processes=None)), **options)


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT_SECONDS)


async def bounded(check: Awaitable[CheckResult]) -> CheckResult:
    """A check that must end by its own deadline: a bound, so a pool that ignores it fails."""
    return await asyncio.wait_for(check, WAIT_SECONDS)


async def exited(process: Any) -> None:
    await asyncio.wait_for(process.wait(), WAIT_SECONDS)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ok(result: object) -> ExportAuditReport:
    assert isinstance(result, ExportAuditReport), result
    assert result.outcome.value == "ok", result.detail
    return result


async def test_an_honest_export_is_ok_and_answers_its_own_check(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=1)
    try:
        first = ok(await checkers.check(files.request(), timeout=GENEROUS))
        second = ok(await checkers.check(files.request(), timeout=GENEROUS))
        assert (first.check, second.check) == (1, 2)
        assert first.target == "t1" and first.target_axioms == ["propext"]
        assert files.imports() == [spawner.processes[0].pid]  # one import, two checks
    finally:
        await checkers.close()


async def test_serve_answers_what_the_one_shot_mode_prints(files: Files) -> None:
    request = files.request()
    checkers = pool(files, Recording(), size=1)
    try:
        served = ok(await checkers.check(request, timeout=GENEROUS))
    finally:
        await checkers.close()
    argv = [sys.executable, str(STANDINS / "checker.py"), str(files.scenario)]
    argv += ["--submission-export", str(request.submission), "--check", "1"]
    argv += ["--reference-export", str(request.reference), "--target", "t1"]
    for axiom in AXIOMS:
        argv += ["--axiom", axiom]
    for root in ROOTS:
        argv += ["--module-root", root]
    done = subprocess.run(argv, capture_output=True, timeout=WAIT_SECONDS, check=True)
    assert parse_report(done.stdout) == served


async def test_a_hung_check_times_out_and_a_fresh_checker_takes_over(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=1)
    try:
        hung = await bounded(checkers.check(files.request("checker-hang"), timeout=SHORT))
        assert isinstance(hung, CheckFailure) and hung.kind == "timeout", hung
        first = spawner.processes[0]
        await exited(first)  # killed, not left spinning
        ok(await checkers.check(files.request(), timeout=GENEROUS))
        ok(await checkers.check(files.request(), timeout=GENEROUS))
        second = spawner.processes[1]
        assert len(spawner.processes) == 2 and checkers.stats.replaced == 1
        # each process imported exactly once: at its start, never per check
        assert files.imports() == [first.pid, second.pid]
    finally:
        await checkers.close()


async def test_a_late_ok_is_discarded(files: Files) -> None:
    spawner = Recording(defer_kill=1)
    checkers = pool(files, spawner, size=1)
    try:
        late = await bounded(checkers.check(files.request("checker-late"), timeout=SHORT))
        assert isinstance(late, CheckFailure) and late.kind == "timeout", late
        condemned = spawner.processes[0]
        assert condemned.kill_asked and condemned.returncode is None  # alive: it can still answer
        # the next check goes to a fresh checker, never to the condemned one still running
        after = ok(await checkers.check(files.request(), timeout=GENEROUS))
        assert after.check == 2 and len(spawner.processes) == 2
        files.gate.touch()  # past the deadline: now it answers ok, to nobody
        await until(lambda: checkers.stats.discarded_bytes > 0)
        condemned.release()
        await exited(condemned)
        ok(await checkers.check(files.request(), timeout=GENEROUS))
    finally:
        for process in spawner.processes:
            if isinstance(process, DeferredKill):
                process.release()
        await checkers.close()


async def test_a_crash_is_reported_and_recovered(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=1)
    try:
        crashed = await checkers.check(files.request("checker-crash"), timeout=GENEROUS)
        assert isinstance(crashed, CheckFailure) and crashed.kind == "crashed", crashed
        assert crashed.returncode == 3 and "checker-crash" in crashed.stderr
        ok(await checkers.check(files.request(), timeout=GENEROUS))
        assert len(spawner.processes) == 2 and checkers.stats.replaced == 1
    finally:
        await checkers.close()


async def test_a_huge_answer_is_refused(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, "--huge-bytes", str(1 << 20), size=1, max_reply_bytes=64 << 10)
    try:
        huge = await checkers.check(files.request("checker-huge"), timeout=GENEROUS)
        assert isinstance(huge, CheckFailure) and huge.kind == "reply_too_large", huge
        await exited(spawner.processes[0])
        ok(await checkers.check(files.request(), timeout=GENEROUS))
    finally:
        await checkers.close()


async def test_an_answer_to_another_check_is_refused(files: Files) -> None:
    files.scenario.write_text(json.dumps({"report": {"check": 999}}))
    spawner = Recording()
    checkers = pool(files, spawner, size=1)
    try:
        wrong = await checkers.check(files.request(), timeout=GENEROUS)
        assert isinstance(wrong, CheckFailure) and wrong.kind == "protocol", wrong
        assert "999" in wrong.reason
        await exited(spawner.processes[0])
    finally:
        await checkers.close()


async def test_checks_complete_while_one_hangs(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=2)
    await checkers.start()
    try:
        hung = asyncio.create_task(checkers.check(files.request("checker-hang"), timeout=GENEROUS))
        await until(lambda: checkers.idle == 1)
        # two more checks than free checkers: they queue for the one that is not hung
        results = await asyncio.gather(
            checkers.check(files.request(), timeout=GENEROUS),
            checkers.check(files.request(), timeout=GENEROUS),
        )
        for result in results:
            ok(result)
        assert not hung.done() and len(spawner.processes) == 2
    finally:
        await checkers.close()
    with pytest.raises(NotReady):
        await hung


async def test_a_checker_is_recycled_after_k_checks(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=1, recycle_after=2)
    try:
        for _ in range(3):
            ok(await checkers.check(files.request(), timeout=GENEROUS))
        first, second = spawner.processes
        await exited(first)
        assert checkers.stats.recycled == 1 and checkers.stats.replaced == 0
        assert files.imports() == [first.pid, second.pid]
    finally:
        await checkers.close()


async def test_close_kills_every_checker(files: Files) -> None:
    spawner = Recording()
    checkers = pool(files, spawner, size=2)
    await checkers.start()
    hung = asyncio.create_task(checkers.check(files.request("checker-hang"), timeout=GENEROUS))
    await until(lambda: checkers.idle == 1)
    await checkers.close()
    with pytest.raises(NotReady):
        await hung
    assert len(spawner.processes) == 2
    for process in spawner.processes:
        assert process.returncode is not None and gone(process.pid)
    with pytest.raises(NotReady):
        await checkers.check(files.request(), timeout=GENEROUS)


async def test_a_cancellation_that_meets_the_ready_line_is_not_swallowed(files: Files) -> None:
    """The caller gives up in the very loop turn the line arrives: the wait must still end in
    CancelledError (asyncio.wait_for on Python 3.11 returns the line and loses the cancel)."""
    process = await ProcessGroupSpawner().spawn(
        SpawnSpec(argv=["sleep", "60"], cwd=files.dir), Limits(max_processes=None)
    )
    checker = _Checker(process, max_reply_bytes=1024, stats=CheckerStats())
    try:
        waiting = asyncio.create_task(checker._next_line(WAIT_SECONDS, what="its ready line"))
        await asyncio.sleep(0)  # the task waits on the pending line
        pending = checker._pending
        assert pending is not None and not waiting.done()
        pending.set_result(b'{"ready": true}\n')
        asyncio.get_running_loop().call_soon(waiting.cancel)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, WAIT_SECONDS)
    finally:
        await checker.close()
