"""The jail's side of `SpawnFailed`: real jails through `BwrapSpawner`."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.exceptions import SandboxUnavailable, SpawnFailed
from proofgate.sandbox import BwrapSpawner
from proofgate.sandbox.bwrap import SCRATCH_PREFIX
from proofgate.sandbox.process import Limits, SpawnSpec

IN_CI = bool(os.environ.get("CI"))

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(
        shutil.which("bwrap") is None and not IN_CI,
        reason="bubblewrap (bwrap) not installed: apt-get install bubblewrap (CI installs it and never skips)",
    ),
]

PYTHON = str(Path(sys.executable).resolve())
PYTHON_HOME = Path(sys.base_prefix)
MiB = 1 << 20


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
    any_spawner.bwrap = str(tmp_path / "bwrap-gone")
    with pytest.raises(SpawnFailed, match="could not start the jail") as caught:
        await any_spawner.spawn(python("pass"), Limits(memory_bytes=64 * MiB))
    assert not isinstance(caught.value, SandboxUnavailable)
    assert (_scratch_dirs(), _cgroups(any_spawner)) == before


def _cgroups(spawner: BwrapSpawner) -> set[Path]:
    parents = spawner.cgroups._parents() if spawner.cgroups is not None else ()
    return {child for parent in parents for child in parent.glob(f"proofgate-{os.getpid()}-*")}


async def test_a_jail_without_a_scratch_directory_is_a_spawn_failure(
    watchdog_spawner: BwrapSpawner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-tmp-here"))
    with pytest.raises(SpawnFailed, match="scratch directory"):
        await watchdog_spawner.spawn(python("pass"), Limits())
