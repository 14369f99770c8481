"""Starting a child without the service forking: the spawn server starts the launcher, which
sets the limits before the program runs and joins the cgroup first."""

from __future__ import annotations

import _posixsubprocess
import asyncio
import os
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from proofgate.config import Settings
from proofgate.exceptions import SpawnFailed
from proofgate.sandbox import BwrapSpawner, launch
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from proofgate.sandbox.spawn_client import spawn_server
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


def _refuse_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Once this process's spawn server runs, every way this process could start a child fails
    the test (and is recorded): starts belong to the spawn server, never to the event loop."""
    spawn_server()  # started once per process, before the test's spawns
    calls: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} called in the service process")

        return refused

    monkeypatch.setattr(_posixsubprocess, "fork_exec", refuse("fork_exec"))
    for name in ("fork", "posix_spawn", "posix_spawnp"):
        monkeypatch.setattr(os, name, refuse(name))
    monkeypatch.setattr(asyncio, "create_subprocess_exec", refuse("create_subprocess_exec"))
    return calls


@pytest.fixture
def no_start_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _refuse_starts(monkeypatch)


async def _finish(process: ManagedProcess) -> None:
    process.kill()
    await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)


async def test_the_unjailed_spawner_sets_the_limits_without_starting_anything_itself(
    tmp_path: Path, no_start_here: list[str]
) -> None:
    spec = SpawnSpec(argv=["sleep", "60"], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    process = await ProcessGroupSpawner().spawn(spec, LIMITS)
    try:
        assert no_start_here == []
        assert psutil.Process(process.pid).ppid() == spawn_server().pid
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
async def test_the_jail_sets_the_limits_without_starting_anything_itself(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    jail = BwrapSpawner(settings)  # its probe of bwrap (subprocess.run) runs before the guard
    calls = _refuse_starts(monkeypatch)
    spec = SpawnSpec(argv=["cat", "/proc/self/limits"], cwd=Path("/scratch"))
    process = await jail.spawn(spec, LIMITS)
    try:
        assert calls == []
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
