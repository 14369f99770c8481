"""The jail's side of the one watchdog and of `SpawnFailed`: real jails through `BwrapSpawner`."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.exceptions import SandboxUnavailable, SpawnFailed
from proofgate.sandbox import BwrapSpawner, JailedProcess, run_jailed
from proofgate.sandbox.bwrap import SCRATCH_PREFIX
from proofgate.sandbox.process import Limits, SpawnSpec
from proofgate.sandbox.watchdog import POLL_MAX_SECONDS
from tests.support.jail import NEEDS_BWRAP, PYTHON, PYTHON_HOME, MiB
from tests.support.waiting import DEADLINE_SECONDS

pytestmark = NEEDS_BWRAP


def python(code: str) -> SpawnSpec:
    return SpawnSpec(
        argv=[PYTHON, "-c", textwrap.dedent(code)], cwd=Path("/scratch"), read_only=(PYTHON_HOME,)
    )


@pytest.fixture
def watchdog_spawner(settings: Settings, tmp_path: Path) -> BwrapSpawner:
    """A jail with no cgroup at all: limits held by the sandbox's watchdog alone."""
    jail = BwrapSpawner(settings, cgroup_root=tmp_path / "no-cgroups-here")
    assert jail.cgroups is None and jail.limits_mode.startswith("RSS watchdog")
    return jail


@pytest.fixture(params=["default", "watchdog"])
def any_spawner(request: pytest.FixtureRequest, settings: Settings) -> BwrapSpawner:
    if request.param == "default":
        return BwrapSpawner(settings)
    return request.getfixturevalue("watchdog_spawner")


def _scratch_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{os.getpid()}-*"))


async def test_a_jail_that_cannot_start_is_a_spawn_failure(
    any_spawner: BwrapSpawner, tmp_path: Path
) -> None:
    """Chosen: bwrap that cannot be executed is the sandbox's `SpawnFailed`, as a failed exec of
    the unjailed spawner is, no longer `SandboxUnavailable` (the jail was proved to work when the
    spawner was chosen). Nothing is left behind: no scratch directory, no cgroup."""
    before = _scratch_dirs(), _cgroups(any_spawner)
    assert before[0] == set()  # a jail's scratch is its own tmpfs: no host directory at all
    any_spawner.bwrap = str(tmp_path / "bwrap-gone")
    with pytest.raises(SpawnFailed, match="could not start the jail") as caught:
        await any_spawner.spawn(python("pass"), Limits(memory_bytes=64 * MiB))
    assert not isinstance(caught.value, SandboxUnavailable)
    assert (_scratch_dirs(), _cgroups(any_spawner)) == before


def _cgroups(spawner: BwrapSpawner) -> set[Path]:
    parents = spawner.cgroups._parents() if spawner.cgroups is not None else ()
    return {child for parent in parents for child in parent.glob(f"proofgate-{os.getpid()}-*")}


async def test_a_jail_needs_no_host_scratch_directory(
    watchdog_spawner: BwrapSpawner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The host's temp directory is not used at all: a jail starts without one, and its /tmp is
    writable (the old jail bound a host directory at /scratch and failed here)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-tmp-here"))
    result = await run_jailed(
        watchdog_spawner,
        SpawnSpec(argv=["sh", "-c", "echo x > /tmp/f && cat /scratch/f"], cwd=Path("/scratch")),
        Limits(),
        timeout=DEADLINE_SECONDS,
    )
    assert (result.returncode, result.stdout) == (0, b"x\n")


# --- the watchdog, where no cgroup holds the jail ----------------------------------------------


IDLES_THEN_GROWS = """
    import sys
    print("ready", flush=True)
    sys.stdin.readline()
    chunks = []
    while True:
        chunks.append(bytearray(b"x" * (8 << 20)))
"""


async def test_the_jails_watchdog_backs_off_while_idle_and_still_catches_growth(
    watchdog_spawner: BwrapSpawner,
) -> None:
    """Chosen: the jail's watchdog, like the unjailed one, looks every `poll_interval` while the
    tree moves and backs off to once a second while it holds steady (it looked 10 times a second
    whatever the tree did); a tree that starts growing after idling is still killed for memory."""
    process = await watchdog_spawner.spawn(python(IDLES_THEN_GROWS), Limits(memory_bytes=128 * MiB))
    assert isinstance(process, JailedProcess) and process.watchdog is not None
    try:
        assert await asyncio.wait_for(process.stdout.readline(), 15) == b"ready\n"
        intervals = [process.watchdog.look() for _ in range(12)]
        assert intervals[-1] == POLL_MAX_SECONDS, intervals  # backed off while idle
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.wait(), 15)
    finally:
        process.kill()
        await process.wait()
    assert process.out_of_memory() and process.limit_exceeded == "memory"


async def test_private_memory_is_unknown_once_the_jail_exited(any_spawner: BwrapSpawner) -> None:
    """Chosen: like the unjailed spawner, a jail reports no private memory once it exited (it kept
    reporting its last look), under a cgroup and under the watchdog alike."""
    process = await any_spawner.spawn(python("import time; time.sleep(60)"), Limits())
    try:
        assert process.private_memory_bytes() is not None
    finally:
        process.kill()
        await process.wait()
    assert process.private_memory_bytes() is None


# --- rlimits ------------------------------------------------------------------------------------

UNDER_A_LOW_HARD_LIMIT = """
import asyncio, resource, sys
from pathlib import Path
from proofgate.config import Settings
from proofgate.sandbox import BwrapSpawner
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Limits, SpawnSpec

resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # this "service" may write 1 MiB
kind, data, python = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
code = "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE))"
if kind == "bwrap":
    spawner = BwrapSpawner(Settings(data_dir=data))
    spec = SpawnSpec([python, "-c", code], Path("/scratch"), read_only=(Path(sys.base_prefix),))
else:
    spawner = ProcessGroupSpawner()
    spec = SpawnSpec([python, "-c", code], data)

async def main():
    process = await spawner.spawn(spec, Limits(file_size_bytes=1 << 30))
    print((await process.stdout.read()).decode().strip(), await process.wait())

asyncio.run(main())
"""


@pytest.mark.parametrize("kind", ["bwrap", "none"])
def test_both_spawners_cap_the_rlimits_at_the_services_own_hard_limit(
    kind: str, tmp_path: Path
) -> None:
    """One `rlimits(limits)` for both spawners. Chosen: each value is capped at the service's own
    hard limit (the unjailed way); the jail asked for the file size cap as it was, and under a lower
    hard limit could not start at all (its setrlimit failed between fork and exec)."""
    run = subprocess.run(
        [sys.executable, "-c", UNDER_A_LOW_HARD_LIMIT, kind, str(tmp_path), PYTHON],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.stdout.split("\n")[-2:] == [f"({1 << 20}, {1 << 20}) 0", ""], run.stderr[-2000:]


# --- the release, end to end ---------------------------------------------------------------------


@pytest.fixture
def cgroup_spawner(settings: Settings) -> BwrapSpawner:
    jail = BwrapSpawner(settings)
    if jail.cgroups is None:
        pytest.skip(f"no writable cgroup here ({jail.limits_mode})")
    return jail


async def test_a_finished_jail_is_released_on_the_loop_and_forgets_its_cgroup(
    cgroup_spawner: BwrapSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emptied cgroup is removed on the loop itself (no thread), and the finished jail forgets
    it: its kill (run_jailed kills every jail once more after the run) signals nothing."""
    threads: list[object] = []
    original = asyncio.to_thread

    async def counting_to_thread(function: object, *args: object) -> object:
        threads.append(function)
        return await original(function, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)
    assert cgroup_spawner.cgroups is not None
    parents = cgroup_spawner.cgroups._parents()
    for _ in range(3):
        jail = await cgroup_spawner.spawn(python("pass"), Limits(memory_bytes=256 * MiB))
        cgroup = jail.cgroup
        assert cgroup is not None
        jail.stdin.close()
        assert await asyncio.wait_for(jail.wait(), DEADLINE_SECONDS) == 0
        assert jail.cgroup is None
        assert all(not (parent / cgroup.name).exists() for parent in parents)
        signalled: list[str] = []
        monkeypatch.setattr(cgroup, "signal_all", functools.partial(signalled.append, "signalled"))
        jail.kill()
        assert signalled == []
    # bwrap's init can take a while to leave the cgroup on a busy machine: then a thread waits
    assert len(threads) < 3, "every release took a thread"


async def test_a_jail_killed_for_memory_is_reported_and_its_cgroup_removed(
    cgroup_spawner: BwrapSpawner,
) -> None:
    hog = await cgroup_spawner.spawn(
        python("chunks = [bytearray(b'h' * (8 << 20)) for _ in range(64)]"),
        Limits(memory_bytes=64 * MiB),
    )
    assert hog.cgroup is not None
    name = hog.cgroup.name
    hog.stdin.close()
    await asyncio.wait_for(hog.wait(), DEADLINE_SECONDS)
    assert hog.out_of_memory()
    assert cgroup_spawner.cgroups is not None
    assert all(not (parent / name).exists() for parent in cgroup_spawner.cgroups._parents())
