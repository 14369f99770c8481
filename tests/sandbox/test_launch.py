"""Starting a child without Python between fork and exec: no `preexec_fn`, the limits still set
before the program runs, the cgroup joined first, children reaped through pidfds, and an exit seen
through a pidfd wakes the loop once."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.exceptions import SpawnFailed
from proofgate.sandbox import BwrapSpawner, launch
from proofgate.sandbox.group import GroupProcess, ProcessGroupSpawner
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from tests.support.fake_cgroup import FakeCgroupV2, FakeV2Tree, make_fake_v2_root
from tests.support.waiting import DEADLINE_SECONDS, until_async

IN_CI = bool(os.environ.get("CI"))
needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not IN_CI,
    reason="bubblewrap (bwrap) not installed: apt-get install bubblewrap (CI installs it)",
)
LIMITS = Limits(open_files=77, file_size_bytes=123456, core_dumps=False)
#: The lines of /proc/<pid>/limits that LIMITS sets, as (soft, hard).
EXPECTED = {
    "Max open files": ("77", "77"),
    "Max file size": ("123456", "123456"),
    "Max core file size": ("0", "0"),
}


def _limits_table(text: str) -> dict[str, tuple[str, str]]:
    """The rows of a /proc/<pid>/limits text that EXPECTED names."""
    found = {}
    for line in text.splitlines():
        for name in EXPECTED:
            if line.startswith(name):
                soft, hard = re.split(r"\s{2,}", line[len(name) :].strip())[:2]
                found[name] = (soft, hard)
    return found


@pytest.fixture
def spawn_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every `subprocess.Popen` and `asyncio.create_subprocess_exec`."""
    calls: list[dict[str, Any]] = []
    popen_init = subprocess.Popen.__init__
    create = asyncio.create_subprocess_exec

    def spy_popen(self: subprocess.Popen[bytes], *args: Any, **kwargs: Any) -> None:
        calls.append({"via": "Popen", **kwargs})
        popen_init(self, *args, **kwargs)

    async def spy_create(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        calls.append({"via": "create_subprocess_exec", **kwargs})
        return await create(*args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy_popen)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy_create)
    yield calls


def _assert_no_preexec(calls: list[dict[str, Any]]) -> None:
    assert {call["via"] for call in calls} == {"Popen", "create_subprocess_exec"}, calls
    assert all(call.get("preexec_fn") is None for call in calls), calls


async def _finish(process: ManagedProcess) -> None:
    process.kill()
    await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)


async def test_the_unjailed_spawner_sets_the_limits_without_a_preexec_fn(
    tmp_path: Path, spawn_calls: list[dict[str, Any]]
) -> None:
    spec = SpawnSpec(argv=["sleep", "60"], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    process = await ProcessGroupSpawner().spawn(spec, LIMITS)
    try:
        _assert_no_preexec(spawn_calls)
        # The spawn returns once the launcher reported, just before its exec: the program is
        # the process itself, with the limits it inherited.
        assert await asyncio.wait_for(_exec_of(process.pid, "sleep"), DEADLINE_SECONDS)
        assert _limits_table(Path(f"/proc/{process.pid}/limits").read_text()) == EXPECTED
        assert os.getpgid(process.pid) == process.pid  # still a session and group of its own
    finally:
        await _finish(process)


async def _exec_of(pid: int, name: str) -> bool:
    """Wait, a loop turn at a time, until `pid` runs `name` (the launcher execs it)."""
    while Path(f"/proc/{pid}/comm").read_text().strip() != name:
        await asyncio.sleep(0.01)
    return True


@needs_bwrap
async def test_the_jail_sets_the_limits_without_a_preexec_fn(
    settings: Settings, spawn_calls: list[dict[str, Any]]
) -> None:
    jail = BwrapSpawner(settings)
    spawn_calls.clear()  # the spawner's own probe of bwrap (subprocess.run) is not a spawn
    spec = SpawnSpec(argv=["cat", "/proc/self/limits"], cwd=Path("/scratch"))
    process = await jail.spawn(spec, LIMITS)
    try:
        _assert_no_preexec(spawn_calls)
        inside = (await asyncio.wait_for(process.stdout.read(), DEADLINE_SECONDS)).decode()
        assert _limits_table(inside) == EXPECTED  # the program in the jail, not only bwrap
        assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 0
    finally:
        await _finish(process)


class _UnjoinableCgroup(FakeCgroupV2):
    def join_files(self) -> tuple[Path, ...]:
        return (self.directory / "gone" / "cgroup.procs",)


class _UnjoinableTree(FakeV2Tree):
    def open(self, name: str) -> FakeCgroupV2:
        return _UnjoinableCgroup(self.parent / name)


@needs_bwrap
async def test_a_cgroup_that_cannot_be_joined_is_a_spawn_failure_and_nothing_runs(
    settings: Settings, tmp_path: Path
) -> None:
    """The launcher joins the cgroup before it execs bwrap; if it cannot, bwrap never runs and
    the spawn fails (as a failed `preexec_fn` did), never a jail that ran unconfined or "exited"."""
    root = make_fake_v2_root(tmp_path / "cgroup")
    jail = BwrapSpawner(settings, cgroup_root=root)
    jail.cgroups = _UnjoinableTree(root)
    shared = tmp_path / "shared"
    shared.mkdir()
    marker = shared / "ran"
    spec = SpawnSpec(argv=["touch", str(marker)], cwd=shared, writable=(shared,))
    with pytest.raises(SpawnFailed, match=r"could not start the jail.*gone/cgroup\.procs"):
        await jail.spawn(spec, Limits())
    assert not marker.exists()
    assert [entry.name for entry in root.iterdir() if entry.is_dir()] == []  # cgroup removed


async def test_children_are_reaped_through_pidfds_not_a_thread_each(tmp_path: Path) -> None:
    def waiters() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("waitpid-")}

    before = waiters()
    spec = SpawnSpec(argv=["sleep", "60"], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    process = await ProcessGroupSpawner().spawn(spec, Limits())
    try:
        assert waiters() <= before  # asyncio's threaded watcher starts one per child
    finally:
        await _finish(process)
    assert process.returncode == -9


def _fake_prlimit(tmp_path: Path, body: str) -> str:
    """A prlimit that records its parent (the launcher) and then does `body`."""
    script = tmp_path / "prlimit"
    script.write_text(f"#!/bin/sh\necho $PPID > {tmp_path / 'launcher.pid'}\n{body}\n")
    script.chmod(0o755)
    return str(script)


async def test_a_launcher_killed_before_the_program_runs_is_a_kill_not_a_refusal(
    tmp_path: Path,
) -> None:
    """A kill in the launch window (an operator, the OOM killer) is `LaunchKilled`, which the
    spawners report as `SpawnFailed(killed=True)`: the pool then retries instead of failing the
    header's waiters as it does for a launcher that refused to confine itself."""
    marker = tmp_path / "ran"
    prlimit = _fake_prlimit(tmp_path, "exec sleep 60")
    starting = asyncio.ensure_future(
        launch.start(
            ["touch", str(marker)],
            limits=Limits(),
            cwd=str(tmp_path),
            env={"PATH": os.environ["PATH"]},
            prlimit=prlimit,
        )
    )
    pid_file = tmp_path / "launcher.pid"
    assert await until_async(lambda: pid_file.exists() and pid_file.read_text().strip())
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)  # the launcher leads its own group
    with pytest.raises(launch.LaunchKilled, match="killed by signal 9"):
        await asyncio.wait_for(starting, DEADLINE_SECONDS)
    assert not marker.exists()


async def test_a_launcher_that_refuses_is_not_a_kill(tmp_path: Path) -> None:
    prlimit = _fake_prlimit(tmp_path, "echo 'prlimit: refused' >&2; exit 1")
    with pytest.raises(ChildProcessError, match="refused") as caught:
        await launch.start(
            ["true"],
            limits=Limits(),
            cwd=str(tmp_path),
            env={"PATH": os.environ["PATH"]},
            prlimit=prlimit,
        )
    assert not isinstance(caught.value, launch.LaunchKilled)


async def test_the_spawner_says_a_killed_launch_was_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def killed(*args: Any, **kwargs: Any) -> Any:
        raise launch.LaunchKilled("the launcher of x was killed by signal 9")

    monkeypatch.setattr(launch, "start", killed)
    spec = SpawnSpec(argv=["true"], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    with pytest.raises(SpawnFailed) as caught:
        await ProcessGroupSpawner().spawn(spec, Limits())
    assert caught.value.killed


async def test_a_missing_program_fails_before_anything_starts(tmp_path: Path) -> None:
    spec = SpawnSpec(argv=["no-such-program-here"], cwd=tmp_path, env={"PATH": str(tmp_path)})
    with pytest.raises(SpawnFailed, match="no-such-program-here") as caught:
        await ProcessGroupSpawner().spawn(spec, Limits())
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_the_script_joins_then_limits_then_reports_then_execs() -> None:
    script = launch.launch_script(
        LIMITS,
        prlimit="/usr/bin/prlimit",
        join_files=(Path("/cg/a b/cgroup.procs"),),
        oom_score_adj=1000,
    )
    lines = script.splitlines()
    assert lines[0] == "printf 0 >'/cg/a b/cgroup.procs' || exit 125"
    assert "oom_score_adj" in lines[1]
    assert lines[2] == (
        "/usr/bin/prlimit --pid $$ --nofile=77:77 --fsize=123456:123456 --core=0:0 || exit 125"
    )
    assert lines[3:] == ["printf ok || exit 125", 'exec "$@"']


# --- the pidfd that says a process exited ----------------------------------------------------


def _count_exit_readers(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """A list whose length is how often a `mark_exited` reader ran (wrapped via add_reader)."""
    runs: list[int] = []
    add_reader = loop.add_reader

    def counting_add_reader(fd: int, callback: Callable[..., object], *args: Any) -> None:
        if getattr(callback, "__name__", "") != "mark_exited":
            return add_reader(fd, callback, *args)

        def counted(*inner: Any) -> object:
            runs.append(fd)
            return callback(*inner)

        return add_reader(fd, counted, *args)

    monkeypatch.setattr(loop, "add_reader", counting_add_reader)
    return runs


async def test_an_exit_seen_through_the_pidfd_wakes_the_loop_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exited process's pidfd stays readable, and the loop polls level-triggered: a reader
    left registered would run on every loop turn while the watch lasts."""
    spec = SpawnSpec(argv=["sleep", "60"], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    process = await ProcessGroupSpawner().spawn(spec, Limits())
    assert isinstance(process, GroupProcess)
    runs = _count_exit_readers(asyncio.get_running_loop(), monkeypatch)
    with process._exit_signal() as exited:
        assert exited is not None
        process.kill()
        await asyncio.wait_for(asyncio.shield(exited), DEADLINE_SECONDS)
        for _ in range(50):  # loop turns while the watch still lasts
            await asyncio.sleep(0)
    assert len(runs) == 1
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == -9
