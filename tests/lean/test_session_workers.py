"""Session workers on the simulated REPL: sharing by header, capacity and eviction, header
failures, recycling, and concurrent starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment, discover_environments
from proofgate.exceptions import Busy, SubmissionError
from proofgate.lean.header_workers import eviction_victim
from proofgate.lean.session_workers import SessionWorkers
from proofgate.sandbox.group import ProcessGroupSpawner
from tests.standins.repl import standin_launcher


def _workers(tmp_path: Path, **overrides: object) -> tuple[SessionWorkers, Environment]:
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **overrides)
    workers = SessionWorkers(
        settings, spawner=ProcessGroupSpawner(), launcher=standin_launcher(settings)
    )
    return workers, discover_environments(settings)["default"]


async def test_sessions_of_one_header_share_one_worker(tmp_path: Path) -> None:
    workers, env = _workers(tmp_path)
    try:
        first, second = await asyncio.gather(
            workers.attach(env, "import Mathlib"), workers.attach(env, "import Mathlib")
        )
        assert first is second and first.sessions == 2 and workers.started == 1
        assert first.header_env == 0  # the header's env, reused by every statement
        reply = await first.command("-- standin: report-base", timeout=5)
        assert "base env=0" in reply.messages[0].data
        other = await workers.attach(env, "import Mathlib.Tactic")
        assert other is not first and workers.started == 2
    finally:
        await workers.close()


async def test_no_imports_is_elaborated_once_as_the_pool_does(tmp_path: Path) -> None:
    """Issue 19, item 5: a header with no imports is elaborated like any other (the pool's rule),
    and every statement runs on its env, not on a fresh env of its own."""
    workers, env = _workers(tmp_path)
    try:
        worker = await workers.attach(env, "")
        assert worker.header_env == 0
        for _ in range(2):
            reply = await worker.command("-- standin: report-base", timeout=5)
            assert reply.messages[0].data == "base env=0 depth=0 imports="
    finally:
        await workers.close()


async def test_a_header_that_does_not_import_is_the_statements_fault(tmp_path: Path) -> None:
    workers, env = _workers(tmp_path)
    try:
        with pytest.raises(SubmissionError, match="do not load") as info:
            await workers.attach(env, "import Standin.Missing")
        assert info.value.field == "statement"
        assert workers.stats()["workers"] == 0
    finally:
        await workers.close()


async def test_at_capacity_unused_workers_are_evicted_and_used_ones_are_not(tmp_path: Path) -> None:
    workers, env = _workers(tmp_path, session_workers=1)
    try:
        held = await workers.attach(env, "import Mathlib")
        with pytest.raises(Busy, match="close a session"):
            await workers.attach(env, "import Mathlib.Tactic")
        workers.detach(held)
        moved = await workers.attach(env, "import Mathlib.Tactic")
        assert moved.usable and not held.usable
        assert workers.retired == {"evicted": 1}
    finally:
        await workers.close()


async def test_a_worker_that_served_enough_is_recycled_once_unused(tmp_path: Path) -> None:
    workers, env = _workers(tmp_path, session_recycle_after=2)
    try:
        old = await workers.attach(env, "import Mathlib")
        await old.command("-- standin: info one", timeout=5)
        workers.after_command(old)
        assert old.usable
        await old.command("-- standin: info two", timeout=5)
        workers.after_command(old)
        assert old.retiring and old.repl.alive  # its session still holds it
        fresh = await workers.attach(env, "import Mathlib")
        assert fresh is not old and workers.started == 2
        workers.detach(old)
        assert not old.repl.alive
        assert workers.retired == {"recycled": 1}
    finally:
        await workers.close()


async def test_close_waits_for_the_workers_it_retired(tmp_path: Path) -> None:
    # a retired worker is closed in the background; `close` must wait for that too, or its
    # process outlives the loop (an unclosed transport when the loop is gone)
    workers, env = _workers(tmp_path, session_recycle_after=1)
    old = await workers.attach(env, "import Mathlib")
    await old.command("-- standin: info one", timeout=5)
    workers.after_command(old)
    workers.detach(old)  # retired now, its close started in the background
    await workers.close()
    assert old.repl.returncode is not None  # reaped before close returned


def test_one_eviction_rule_least_recently_used_and_the_kept_ones_last() -> None:
    """`eviction_victim` is the pool's and the sessions' rule (issue 19, item 5)."""
    idle = {"warm-old": 1.0, "cold-new": 5.0, "cold-old": 2.0, "warm-new": 0.5}
    victim = eviction_victim(
        idle, kept=lambda name: name.startswith("warm"), last_used=lambda name: idle[name]
    )
    assert victim == "cold-old"
    assert eviction_victim([], kept=bool, last_used=float) is None


async def test_at_capacity_the_least_recently_used_recycling_worker_goes_first(
    tmp_path: Path,
) -> None:
    """Behaviour change (issue 19, item 5): among workers being recycled, the sessions evict the
    least recently used one, as the pool does; they used to pick the one with fewest sessions
    (every session of a recycling worker moves to a fresh one anyway)."""
    now = [0.0]
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", session_workers=3)
    workers = SessionWorkers(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=standin_launcher(settings),
        clock=lambda: now[0],
    )
    env = discover_environments(settings)["default"]
    try:
        unused = await workers.attach(env, "import Aesop")
        workers.detach(unused)  # idle since 0, the least recently used, but not recycling: kept
        now[0] = 5.0
        older = await workers.attach(env, "import Mathlib")
        await workers.attach(env, "import Mathlib")  # two sessions on `older`
        now[0] = 10.0
        newer = await workers.attach(env, "import Mathlib.Tactic")  # one session on `newer`
        older.retiring = newer.retiring = True
        await workers.attach(env, "import Mathlib.Logic")
        assert workers.retired == {"evicted": 1}
        assert not older.repl.alive and newer.repl.alive and unused.usable
    finally:
        await workers.close()
