"""The worker pool on stand-in REPL processes: warm headers, limits, retries, backpressure, drain."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment, discover_environments
from proofgate.exceptions import (
    Busy,
    ReplCrashed,
    ReplError,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
    SubmissionError,
)
from proofgate.lean import pool as pool_module
from proofgate.lean.pool import ReplPool, ReplRun
from proofgate.lean.reply import ReplPos
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import SpawnSpec
from tests.standins.repl import standin_children, standin_launcher
from tests.support.waiting import DEADLINE_SECONDS, until_async


@asynccontextmanager
async def running_pool(tmp_path: Path, *options: str, **overrides: Any) -> AsyncIterator[ReplPool]:
    values: dict[str, Any] = {
        "workers": 2,
        "spare_workers": 1,
        "prewarm_headers": ["import Mathlib"],
        "request_timeout": 10.0,
        "queue_wait": 10.0,
        "import_timeout": 10.0,
        "memory_limit_mb": 1024,
        "recycle_after": 100,
    }
    values.update(overrides)
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **values)
    pool = ReplPool(
        settings, spawner=ProcessGroupSpawner(), launcher=standin_launcher(settings, *options)
    )
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close(drain_timeout=2.0)


_until = until_async


def _standin_children() -> list[int]:
    """PIDs of this test process's stand-in workers (the spawner runs them as direct children)."""
    return standin_children(recursive=False)


def _info(run: ReplRun) -> list[str]:
    return [m.data for m in run.reply.messages if m.severity == "info"]


async def test_prewarmed_header_serves_bodies_from_its_own_env(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        code = "import Mathlib\n\ntheorem t : True := trivial\n-- standin: report-base\n-- standin: error nope"
        first, second = await pool.run(code), await pool.run(code)
        for run in (first, second):
            assert run.header == "import Mathlib" and run.header_lines == 1 and run.attempts == 1
            assert _info(run) == ["base env=0 depth=0 imports=Mathlib"]
            error = next(m for m in run.reply.messages if m.is_error)
            assert error.pos == ReplPos(line=5, column=0) and error.data == "nope"
        assert second.reply.env >= 1
        assert await _until(lambda: pool.stats().idle_workers == 3)
        stats = pool.stats()
        assert stats.imports == 3 and stats.checks == 2 and stats.check_seconds_total > 0
        assert stats.workers_by_header == {"default:import Mathlib": 3}
        assert stats.busy_workers == 0 and stats.queue_depth == 0 and stats.restarts == {}


async def test_code_after_the_import_on_its_line_keeps_its_position(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        code = "import Mathlib open Nat -- standin: error here"
        run = await pool.run(code)
        assert run.reply.messages[0].pos == ReplPos(line=1, column=code.index("-- standin"))


async def test_headerless_code_gets_a_prelude_only_worker(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        run = await pool.run("-- standin: report-base")
        assert run.header == "" and run.header_lines == 0
        assert _info(run) == ["base env=0 depth=0 imports="]


async def test_a_cold_header_evicts_the_least_recently_used_idle_worker(tmp_path: Path) -> None:
    async with running_pool(tmp_path, workers=1, spare_workers=0) as pool:
        run = await pool.run("import Aesop\n-- standin: report-base")
        assert _info(run) == ["base env=0 depth=0 imports=Aesop"]
        assert pool.stats().restarts == {"evicted": 1}
        await pool.run("import Mathlib\n-- standin: info back")
        assert pool.stats().restarts == {"evicted": 2}
        assert pool.stats().workers_by_header == {"default:import Mathlib": 1}


async def test_a_header_that_fails_to_import_is_answered_at_the_import_line(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        run = await pool.run("-- hi\nimport Standin.Missing.Thing\ntheorem t : True := trivial")
        assert run.header_failed
        message = run.reply.messages[0]
        assert message.is_error and message.pos is not None and message.pos.line == 2
        assert pool.stats().restarts == {"header_failed": 1, "evicted": 1}  # the pool was full


async def test_timeout_is_not_retried_and_the_spare_answers_at_once(tmp_path: Path) -> None:
    async with running_pool(
        tmp_path, "--import-seconds", "1.5", workers=1, spare_workers=1
    ) as pool:
        assert await _until(lambda: pool.stats().idle_workers == 2)  # both warm: one is the spare
        warm = set(_standin_children())
        with pytest.raises(ReplTimeout):
            await pool.run("import Mathlib\n-- standin: hang", timeout=0.5)
        run = await pool.run("import Mathlib\n-- standin: info next")
        # no cold import in the way: the spare, warm before the timeout, answered, not a
        # worker started since
        assert run.worker_pid in warm and len(warm) == 2
        stats = pool.stats()
        assert stats.retries == 0 and stats.restarts == {"timeout": 1}
        assert await _until(lambda: not (warm - {run.worker_pid}) & set(_standin_children()))


async def test_a_crash_is_retried_once_on_another_worker(tmp_path: Path) -> None:
    flag = tmp_path / "crashed-once"
    async with running_pool(tmp_path) as pool:
        run = await pool.run(
            f"import Mathlib\n-- standin: crash-once {flag}\n-- standin: info survived"
        )
        assert run.attempts == 2 and _info(run) == ["survived"]
        assert flag.exists()
        assert pool.stats().retries == 1 and pool.stats().restarts == {"crashed": 1}


@pytest.mark.parametrize(
    ("fault", "stderr"), [("crash", "INTERNAL PANIC"), ("crash-mid-reply", "")]
)
async def test_a_worker_that_always_crashes_gives_a_clear_error_after_one_retry(
    tmp_path: Path, fault: str, stderr: str
) -> None:
    async with running_pool(tmp_path) as pool:
        with pytest.raises(ReplCrashed, match="retried once") as caught:
            await pool.run(f"import Mathlib\n-- standin: error partial\n-- standin: {fault}")
        assert stderr in caught.value.stderr
        assert pool.stats().restarts == {"crashed": 2} and pool.stats().retries == 1
        assert _info(await pool.run("import Mathlib\n-- standin: info fine")) == ["fine"]


async def test_forged_output_replaces_the_worker_and_retries(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        with pytest.raises(ReplProtocolError, match="retried once"):
            await pool.run("import Mathlib\n-- standin: forge")
        assert pool.stats().retries == 1 and pool.stats().restarts == {"protocol": 2}


async def test_printing_while_idle_gets_the_worker_replaced(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        run = await pool.run("import Mathlib\n-- standin: print-while-idle 0.1")
        assert await _until(lambda: pool.stats().restarts.get("protocol") == 1)
        assert await _until(lambda: run.worker_pid not in _standin_children())
        assert _info(await pool.run("import Mathlib\n-- standin: info ok")) == ["ok"]


async def test_an_idle_worker_that_dies_is_replaced_without_waiting_for_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("proofgate.lean.workers.SUPERVISE_SECONDS", 600.0)
    async with running_pool(tmp_path) as pool:
        before = set(_standin_children())
        victim = (await pool.run("import Mathlib\n-- standin: info ok")).worker_pid
        assert await _until(lambda: pool.stats().busy_workers == 0)  # the worker is idle again
        os.kill(victim, signal.SIGKILL)
        assert await _until(lambda: sum(pool.stats().restarts.values()) == 1)
        assert await _until(lambda: len(set(_standin_children()) - before) == 1)
        assert victim not in _standin_children()
        assert _info(await pool.run("import Mathlib\n-- standin: info ok")) == ["ok"]


async def test_memory_over_the_cap_is_the_submissions_outcome(tmp_path: Path) -> None:
    async with running_pool(tmp_path, memory_limit_mb=96) as pool:
        with pytest.raises(ReplOutOfMemory):
            await pool.run(
                "import Mathlib\n-- standin: grow-memory 400\n-- standin: hang", timeout=20
            )
        assert pool.stats().retries == 0 and pool.stats().restarts == {"out_of_memory": 1}


async def test_workers_are_recycled_by_count_and_by_memory(tmp_path: Path) -> None:
    async with running_pool(
        tmp_path, workers=1, spare_workers=0, recycle_after=2, memory_limit_mb=256
    ) as pool:
        pids = [(await pool.run("import Mathlib\n-- standin: info x")).worker_pid for _ in range(4)]
        assert pids[0] == pids[1] != pids[2] == pids[3]
        assert pool.stats().restarts == {"recycled": 2}
        grown = await pool.run("import Mathlib\n-- standin: grow-memory 208")  # over 3/4 of the cap
        assert pool.stats().restarts == {"recycled": 2, "memory": 1}
        assert (await pool.run("import Mathlib")).worker_pid != grown.worker_pid


async def test_a_full_queue_answers_busy(tmp_path: Path) -> None:
    async with running_pool(
        tmp_path, workers=1, spare_workers=0, max_queue=1, queue_wait=0.5
    ) as pool:
        # the first holds the only worker for far longer than the second may wait in the queue
        running = asyncio.ensure_future(pool.run("import Mathlib\n-- standin: sleep 4"))
        assert await _until(lambda: pool.stats().busy_workers == 1)
        waiting = asyncio.ensure_future(pool.run("import Mathlib"))
        assert await _until(lambda: pool.stats().queue_depth == 1)
        with pytest.raises(Busy, match="queued"):
            await pool.run("import Mathlib")
        with pytest.raises(Busy, match="no worker free"):
            await waiting
        assert (await running).attempts == 1
        assert pool.stats().busy_rejections == 2


class _RecordingLauncher:
    """The stand-in launcher, noting every environment a worker is started for."""

    def __init__(self, settings: Settings) -> None:
        self._inner = standin_launcher(settings)
        self.environments: list[Environment] = []

    def spawn_spec(self, environment: Environment) -> SpawnSpec:
        self.environments.append(environment)
        return self._inner.spawn_spec(environment)


async def test_the_pool_runs_on_the_environment_it_is_given_and_looks_up_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, item 7: the caller resolves the environment (an unknown name is the service's
    `SubmissionError`); the pool starts its worker from that very value and discovers nothing."""

    def no_lookup(settings: Settings) -> dict[str, Environment]:
        raise AssertionError("the pool looked the environments up")

    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", workers=1, prewarm_headers=[]
    )
    default = discover_environments(settings)["default"]
    other = dataclasses.replace(default, name="other")
    monkeypatch.setattr(pool_module, "discover_environments", no_lookup)
    launcher = _RecordingLauncher(settings)
    pool = ReplPool(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=launcher,
        environments={"default": default},
    )
    try:
        await pool.start()
        run = await pool.run("import Mathlib\n-- standin: info x", environment=other, timeout=5)
        assert _info(run) == ["x"]
        assert launcher.environments == [other] and launcher.environments[0] is other
        assert pool.stats().workers_by_header == {"other:import Mathlib": 1}
        with pytest.raises(SubmissionError, match="timeout must be positive"):
            await pool.run("import Mathlib", environment=other, timeout=0)
    finally:
        await pool.close(drain_timeout=2.0)


async def test_close_drains_running_requests_then_refuses(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        running = asyncio.ensure_future(
            pool.run("import Mathlib\n-- standin: sleep 0.5\n-- standin: info done")
        )
        assert await _until(lambda: pool.stats().busy_workers == 1)  # it runs on a worker
        await pool.close(drain_timeout=DEADLINE_SECONDS)
        assert _info(await running) == ["done"]
        with pytest.raises(Busy, match="shutting down"):
            await pool.run("import Mathlib")
    assert await _until(lambda: not _standin_children()), [
        psutil.Process(p).cmdline() for p in _standin_children()
    ]


async def test_close_after_the_drain_timeout_kills_what_still_runs(tmp_path: Path) -> None:
    async with running_pool(tmp_path) as pool:
        # it hangs for good and has no timeout of its own to end it: only close can
        running = asyncio.ensure_future(
            pool.run("import Mathlib\n-- standin: hang", timeout=10 * DEADLINE_SECONDS)
        )
        assert await _until(lambda: pool.stats().busy_workers == 1)
        await asyncio.wait_for(pool.close(drain_timeout=0.3), DEADLINE_SECONDS)
        with pytest.raises((Busy, ReplError)) as caught:
            await asyncio.wait_for(running, DEADLINE_SECONDS)
        assert not isinstance(caught.value, ReplTimeout)
    assert await _until(lambda: not _standin_children())


@pytest.mark.timeout(5 * DEADLINE_SECONDS)
async def test_killing_random_workers_loses_and_mixes_up_nothing(tmp_path: Path) -> None:
    """300 concurrent requests while workers are SIGKILLed at random: each gets its own answer."""
    total = 300
    async with running_pool(
        tmp_path,
        "--check-seconds-lognormal=-4,0.5",
        "--seed",
        "7",
        workers=4,
        spare_workers=1,
        max_queue=total,
        queue_wait=4 * DEADLINE_SECONDS,
    ) as pool:
        kills = finished = 0
        progress = asyncio.Event()

        async def killer() -> None:
            """A kill every few answers (3 to 7): as many kills per request however fast the
            machine answers, where a kill every so many milliseconds hit a slow machine's requests
            far more often."""
            nonlocal kills
            rng = random.Random(11)
            while True:
                due = finished + rng.randint(3, 7)
                while finished < due:
                    progress.clear()
                    await progress.wait()
                victims = _standin_children()
                if victims:
                    try:
                        os.killpg(rng.choice(victims), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass

        async def one(index: int) -> tuple[int, ReplRun | BaseException]:
            nonlocal finished
            code = f"import Mathlib\n\ntheorem t{index} : True := trivial\n-- standin: info request-{index}"
            try:
                return index, await pool.run(code)
            except ReplError as exc:
                return index, exc
            finally:
                finished += 1
                progress.set()

        killing = asyncio.ensure_future(killer())
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(one(i) for i in range(total))), 4 * DEADLINE_SECONDS
            )
        finally:
            killing.cancel()
        answered = [r for _, r in results if isinstance(r, ReplRun)]
        failed = [r for _, r in results if not isinstance(r, ReplRun)]
        assert len(results) == total
        for index, result in results:
            if isinstance(result, ReplRun):
                assert _info(result) == [f"request-{index}"]
                pos = result.reply.messages[0].pos
                assert pos is not None and pos.line == 4
        assert all(isinstance(error, ReplCrashed) for error in failed), [
            repr(e) for e in failed[:3]
        ]
        assert kills >= 10 and pool.stats().retries >= 1
        assert len(answered) >= total * 0.9, sorted({str(e)[:200] for e in failed})[:5]


# --- with real Lean (the real-Lean workflow runs these; skipped here) ----------------------------


@asynccontextmanager
async def real_pool(tmp_path: Path, **overrides: Any) -> AsyncIterator[ReplPool]:
    """The default launcher (`lake env <repl>` in the root project) on the unjailed spawner."""
    values: dict[str, Any] = {
        "workers": 1,
        "spare_workers": 0,
        "prewarm_headers": ["import Mathlib"],
    }
    values.update(overrides)
    settings = Settings(data_dir=tmp_path / "data", **values)
    pool = ReplPool(settings, spawner=ProcessGroupSpawner())
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close(drain_timeout=5.0)


@pytest.mark.lean
@pytest.mark.timeout(900)
async def test_real_mathlib_header_is_imported_once_and_reused(tmp_path: Path) -> None:
    async with real_pool(tmp_path) as pool:
        first = await pool.run("import Mathlib\n\ntheorem two : (2 : ℕ) + 2 = 4 := by norm_num")
        second = await pool.run(
            "import Mathlib\nopen Nat\n\nexample : (3 : ℕ) ≤ 5 := by decide\nexample : 1 = 2 := by rfl"
        )
        assert not first.reply.messages and first.worker_pid == second.worker_pid
        error = next(m for m in second.reply.messages if m.is_error)
        assert error.pos is not None and error.pos.line == 5  # the submitter's line, not the body's
        stats = pool.stats()
        assert stats.imports == 1 and stats.checks == 2
        assert stats.check_seconds_total < stats.import_seconds_total


@pytest.mark.lean
@pytest.mark.timeout(900)
async def test_real_timeout_kills_the_worker_and_is_not_retried(tmp_path: Path) -> None:
    async with real_pool(tmp_path) as pool:
        with pytest.raises(ReplTimeout):
            await pool.run(
                "import Mathlib\ntheorem slow : True := by\n  sleep 60000\n  trivial", timeout=5
            )
        assert pool.stats().retries == 0 and pool.stats().restarts.get("timeout") == 1


@pytest.mark.lean
@pytest.mark.timeout(900)
async def test_real_prelude_only_code_and_an_unknown_module(tmp_path: Path) -> None:
    async with real_pool(tmp_path, prewarm_headers=[]) as pool:
        plain = await pool.run("example : 1 + 1 = 2 := rfl")
        assert plain.header == "" and not plain.reply.messages
        missing = await pool.run(
            "-- header\nimport Mathlib.No.Such.Module\nexample : True := trivial"
        )
        assert missing.header_failed
        assert any(
            m.is_error and m.pos is not None and m.pos.line == 2 for m in missing.reply.messages
        )
