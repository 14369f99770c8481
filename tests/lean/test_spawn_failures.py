"""What the sandbox's `SpawnFailed` becomes in lean/: the pool answers it as a worker that could not
start (`ReplCrashed`, which the service turns into an `internal` verdict), session workers retry it
once and then say `NotReady`: the meanings the spawners' old `ReplCrashed` had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment, discover_environments
from proofgate.exceptions import LeanUnavailable, NotReady, ReplCrashed, SpawnFailed
from proofgate.lean.pool import ReplPool
from proofgate.lean.session_workers import SessionWorkers
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from tests.standins.repl import standin_launcher


class FailingSpawner(ProcessGroupSpawner):
    """The unjailed spawner, whose first `failures` starts exec a program that does not exist."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.raised: list[SpawnFailed] = []

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        self.calls += 1
        if self.calls <= self.failures:
            spec = replace(spec, argv=[str(spec.cwd / "no-such-repl")])
        try:
            return await super().spawn(spec, limits)
        except SpawnFailed as exc:
            self.raised.append(exc)
            raise


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "workers": 1,
        "spare_workers": 0,
        "prewarm_headers": [],
        "queue_wait": 10.0,
        "import_timeout": 10.0,
        "request_timeout": 10.0,
    }
    values.update(overrides)
    return Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **values)


@asynccontextmanager
async def running_pool(tmp_path: Path, spawner: ProcessGroupSpawner) -> AsyncIterator[ReplPool]:
    settings = _settings(tmp_path)
    pool = ReplPool(settings, spawner=spawner, launcher=standin_launcher(settings))
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close(drain_timeout=2.0)


CODE = "import Mathlib\n\ntheorem t : True := trivial\n-- standin: info served"


async def test_a_spawn_failure_is_answered_at_once_as_a_worker_that_could_not_start(
    tmp_path: Path,
) -> None:
    """As before `SpawnFailed`: the waiting request gets `ReplCrashed` at once (no second start
    for it), the start is counted as `start_failed`, and no retry of a body is counted."""
    spawner = FailingSpawner(failures=1)
    async with running_pool(tmp_path, spawner) as pool:
        with pytest.raises(ReplCrashed, match="could not start a Lean worker") as caught:
            await pool.run(CODE)
        assert spawner.calls == 1 and len(spawner.raised) == 1
        assert str(spawner.raised[0]) in str(caught.value)  # the sandbox's reason is kept
        stats = pool.stats()
        assert stats.restarts == {"start_failed": 1} and stats.retries == 0
        run = await pool.run(CODE)  # the next request starts a fresh worker, which serves it
        assert run.attempts == 1 and spawner.calls == 2
        assert [m.data for m in run.reply.messages] == ["served"]


class KilledLaunchSpawner(ProcessGroupSpawner):
    """The unjailed spawner, whose first start is killed in the launch window (as an operator's or
    the OOM killer's SIGKILL of the launcher would be)."""

    def __init__(self) -> None:
        self.calls = 0

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        self.calls += 1
        if self.calls == 1:
            raise SpawnFailed("the launcher was killed by signal 9", killed=True)
        return await super().spawn(spec, limits)


async def test_a_start_killed_in_the_launch_window_is_replaced_and_its_request_served(
    tmp_path: Path,
) -> None:
    """Not the header's fault: the waiting request is not failed, a fresh worker serves it."""
    spawner = KilledLaunchSpawner()
    async with running_pool(tmp_path, spawner) as pool:
        run = await pool.run(CODE)
        assert [m.data for m in run.reply.messages] == ["served"]
        assert spawner.calls == 2 and pool.stats().restarts == {"start_failed": 1}


async def test_a_spawner_that_always_fails_fails_every_request_the_same_way(
    tmp_path: Path,
) -> None:
    spawner = FailingSpawner(failures=1_000)
    async with running_pool(tmp_path, spawner) as pool:
        for expected_calls in (1, 2):
            with pytest.raises(ReplCrashed, match="could not start a Lean worker"):
                await pool.run(CODE)
            assert spawner.calls == expected_calls
        assert pool.stats().restarts == {"start_failed": 2}


async def test_a_missing_toolchain_is_still_lean_unavailable(tmp_path: Path) -> None:
    """The launcher's `LeanUnavailable` is not a spawn failure: it reaches the caller as itself."""
    settings = _settings(tmp_path)

    class NoLean:
        def spawn_spec(self, environment: Environment) -> SpawnSpec:
            raise LeanUnavailable("cannot start a Lean REPL for 'default': no lake")

    spawner = FailingSpawner(failures=0)
    pool = ReplPool(settings, spawner=spawner, launcher=NoLean())
    await pool.start()
    try:
        with pytest.raises(LeanUnavailable, match="no lake"):
            await pool.run(CODE)
        assert spawner.calls == 0
    finally:
        await pool.close(drain_timeout=2.0)


def _session_workers(
    tmp_path: Path, spawner: ProcessGroupSpawner
) -> tuple[SessionWorkers, Environment]:
    settings = _settings(tmp_path)
    workers = SessionWorkers(settings, spawner=spawner, launcher=standin_launcher(settings))
    return workers, discover_environments(settings)["default"]


async def test_a_session_worker_that_fails_to_spawn_is_started_once_more(tmp_path: Path) -> None:
    spawner = FailingSpawner(failures=1)
    workers, environment = _session_workers(tmp_path, spawner)
    try:
        worker = await workers.attach(environment, "import Mathlib")
        assert worker.usable and spawner.calls == 2 and len(spawner.raised) == 1
    finally:
        await workers.close()


async def test_a_session_worker_that_never_spawns_is_not_ready(tmp_path: Path) -> None:
    spawner = FailingSpawner(failures=1_000)
    workers, environment = _session_workers(tmp_path, spawner)
    try:
        with pytest.raises(
            NotReady, match="could not start a Lean worker for this session"
        ) as caught:
            await workers.attach(environment, "import Mathlib")
        assert spawner.calls == 2 and isinstance(caught.value.__cause__, SpawnFailed)
        assert workers.stats()["workers"] == 0
    finally:
        await workers.close()
