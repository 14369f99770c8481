"""The unjailed spawner: a process group killed as a whole, rlimits, exact environment, memory."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from proofgate.exceptions import ReplError, SpawnFailed
from proofgate.sandbox.group import GroupProcess, ProcessGroupSpawner
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from proofgate.sandbox.proctree import sample_tree
from proofgate.sandbox.watchdog import POLL_MAX_SECONDS
from tests.support.waiting import until_async


def _spec(tmp_path: Path, code: str, **env: str) -> SpawnSpec:
    return SpawnSpec(
        argv=[sys.executable, "-c", code], cwd=tmp_path, env={"PATH": os.environ["PATH"], **env}
    )


async def _spawn(
    tmp_path: Path, code: str, limits: Limits | None = None, **env: str
) -> ManagedProcess:
    return await ProcessGroupSpawner().spawn(_spec(tmp_path, code, **env), limits or Limits())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _until_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return _gone(pid)


async def _finish(process: ManagedProcess) -> None:
    """Kill the tree and read both pipes to their end, so asyncio can close the transport."""
    process.kill()
    await asyncio.wait_for(process.wait(), 5)
    await asyncio.wait_for(asyncio.gather(process.stdout.read(), process.stderr.read()), 5)


GRANDCHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


async def test_the_tree_is_one_process_group_and_dies_as_one(tmp_path: Path) -> None:
    process = await _spawn(tmp_path, GRANDCHILD)
    grandchild = int((await process.stdout.readline()).decode())
    assert os.getpgid(process.pid) == process.pid == os.getpgid(grandchild)
    assert os.getsid(process.pid) == process.pid != os.getsid(0)
    process.kill()
    assert await asyncio.wait_for(process.wait(), 5) == -9
    assert await _until_gone(grandchild)
    process.kill()  # idempotent once everything is gone
    await _finish(process)


async def test_wait_returns_while_an_orphan_still_holds_the_pipes(tmp_path: Path) -> None:
    spec = SpawnSpec(
        argv=["/bin/sh", "-c", "sleep 30 & exit 3"], cwd=tmp_path, env={"PATH": os.environ["PATH"]}
    )
    process = await ProcessGroupSpawner().spawn(spec, Limits())
    try:
        assert await asyncio.wait_for(process.wait(), 3) == 3
    finally:
        await _finish(process)


async def test_rlimits_are_set_before_exec(tmp_path: Path) -> None:
    code = (
        "import resource as r\n"
        "print(r.getrlimit(r.RLIMIT_NOFILE), r.getrlimit(r.RLIMIT_FSIZE), r.getrlimit(r.RLIMIT_CORE))\n"
    )
    process = await _spawn(
        tmp_path, code, Limits(open_files=77, file_size_bytes=123456, core_dumps=False)
    )
    out = (await process.stdout.read()).decode().strip()
    await _finish(process)
    assert out == "(77, 77) (123456, 123456) (0, 0)"


async def test_the_environment_is_exactly_the_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROOFGATE_TEST_SECRET", "do-not-leak")
    process = await _spawn(tmp_path, "import os; print(sorted(os.environ))", ONLY_THIS="1")
    names = (await process.stdout.read()).decode()
    await _finish(process)
    assert "ONLY_THIS" in names and "PROOFGATE_TEST_SECRET" not in names and "'HOME'" not in names


async def test_private_memory_counts_the_whole_tree(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time; x = bytearray(b\"\\\\x01\" * (120 << 20)); print(1, flush=True); time.sleep(60)'],"
        " stdout=subprocess.PIPE)\n"
        "child.stdout.readline(); print('ready', flush=True); time.sleep(60)\n"
    )
    process = await _spawn(tmp_path, code)
    try:
        assert (await process.stdout.readline()).strip() == b"ready"
        used = process.private_memory_bytes()
        assert used is not None and used >= 120 << 20
        assert sample_tree(process.pid).private_bytes >= 120 << 20
    finally:
        await _finish(process)
    assert process.private_memory_bytes() is None


async def test_the_watchdog_kills_a_tree_over_its_memory_cap(tmp_path: Path) -> None:
    code = "import time\nx = []\nwhile True:\n    x.append(bytearray(b'\\x01' * (16 << 20)))\n    time.sleep(0.02)\n"
    process = await _spawn(tmp_path, code, Limits(memory_bytes=96 << 20))
    assert await asyncio.wait_for(process.wait(), 10) == -9
    assert process.out_of_memory()
    await _finish(process)


async def test_the_watchdog_catches_a_tree_that_starts_growing_after_idling(tmp_path: Path) -> None:
    """An idle tree is looked at once a second at most; growth after that is still caught."""
    code = (
        "import time\ntime.sleep(3)\nx = []\n"
        "while True:\n    x.append(bytearray(b'\\x01' * (16 << 20)))\n    time.sleep(0.02)\n"
    )
    process = await _spawn(tmp_path, code, Limits(memory_bytes=96 << 20))
    began = time.monotonic()
    assert await asyncio.wait_for(process.wait(), 15) == -9
    assert process.out_of_memory() and time.monotonic() - began >= 3
    await _finish(process)


@pytest.mark.parametrize("missing", ["program", "working directory"])
async def test_a_program_that_cannot_start_is_the_sandboxs_spawn_failure(
    tmp_path: Path, missing: str
) -> None:
    """A failed exec, or a child that dies before it (a missing working directory), is the
    sandbox's own `SpawnFailed`, no longer the REPL driver's `ReplCrashed`."""
    gone = tmp_path / "gone"
    if missing == "program":
        spec = SpawnSpec(argv=[str(gone)], cwd=tmp_path, env={})
    else:
        spec = SpawnSpec(argv=[sys.executable, "-c", "pass"], cwd=gone, env={})
    with pytest.raises(SpawnFailed, match="could not start") as caught:
        await ProcessGroupSpawner().spawn(spec, Limits())
    assert not isinstance(caught.value, ReplError)
    assert isinstance(caught.value.__cause__, OSError)


async def test_the_task_count_is_not_capped_unjailed(tmp_path: Path) -> None:
    """The one watchdog caps tasks only where the spawner asks (the jail): unjailed, a tree of
    more tasks than `max_processes` lives on, looked at on the same back-off schedule."""
    code = (
        "import subprocess, sys, time\n"
        "kids = [subprocess.Popen(['sleep', '60']) for _ in range(3)]\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    process = await _spawn(tmp_path, code, Limits(memory_bytes=1 << 30, max_processes=1))
    try:
        assert (await process.stdout.readline()).strip() == b"ready"
        assert isinstance(process, GroupProcess) and process.watchdog is not None
        assert sample_tree(process.pid).tasks >= 4
        # Steady, it backs off to the slowest pace (a busy machine may show it moving at first,
        # e.g. a child still loading, which sends it back to the fastest), and it is never killed.
        watchdog = process.watchdog
        assert await until_async(lambda: watchdog.look() == POLL_MAX_SECONDS)
        assert process.returncode is None and process.watchdog.exceeded is None
    finally:
        await _finish(process)
