"""How a worker's SpawnSpec is built: `lake env <repl>`, the command override, what a jail must see."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

import proofgate.lean
from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import ConfigError, LeanUnavailable
from proofgate.lean.launch import LeanReplLauncher, worker_limits
from proofgate.lean.session_workers import SessionWorkers
from proofgate.lean.workers import WorkerSet
from proofgate.sandbox.process import Limits


def _environment(tmp_path: Path) -> Environment:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    return Environment(name="default", directory=directory, toolchain="leanprover/lean4:v4.32.0")


def _fake_toolchain(elan_home: Path) -> Path:
    """An elan toolchain whose `lean --version` claims the pinned version, and a `lake`."""
    bin_dir = elan_home / "toolchains" / "leanprover--lean4---v4.32.0" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "lean").write_text(
        "#!/bin/sh\necho 'Lean (version 4.32.0, x86_64-unknown-linux-gnu)'\n"
    )
    (bin_dir / "lake").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("lean", "lake"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def test_default_is_lake_env_repl_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PROOFGATE_TEST_SECRET", "never passed on")
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")
    bin_dir = _fake_toolchain(settings.elan_home)
    environment = _environment(tmp_path)
    repl = (
        environment.directory / ".lake" / "packages" / "REPL" / ".lake" / "build" / "bin" / "repl"
    )
    repl.parent.mkdir(parents=True)
    repl.write_text("")
    spec = LeanReplLauncher(settings).spawn_spec(environment)
    assert spec.argv == [str(bin_dir / "lake"), "env", str(repl)]
    assert spec.cwd == environment.directory
    assert spec.read_only == (bin_dir.parent, environment.directory)
    assert spec.writable == ()  # no host directory: the jail's /tmp is a tmpfs of its own
    assert not (settings.data_dir / "scratch").exists()
    assert spec.env["PATH"] == os.pathsep.join([str(bin_dir), "/usr/bin:/bin"])
    assert (spec.env["HOME"], spec.env["TMPDIR"]) == ("/tmp", "/tmp")
    assert "PROOFGATE_TEST_SECRET" not in spec.env


def test_missing_repl_binary_says_how_to_fix_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")
    _fake_toolchain(settings.elan_home)
    with pytest.raises(LeanUnavailable, match="proofgate setup"):
        LeanReplLauncher(settings).spawn_spec(_environment(tmp_path))


def test_repl_command_replaces_lake_env(tmp_path: Path) -> None:
    command = "/opt/repl/bin/repl --flag 'two words'"
    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", repl_command=command
    )
    environment = _environment(tmp_path)
    spec = LeanReplLauncher(settings).spawn_spec(environment)
    assert spec.argv == shlex.split(command) == ["/opt/repl/bin/repl", "--flag", "two words"]
    assert spec.cwd == environment.directory and environment.directory in spec.read_only


@pytest.mark.parametrize(
    "command",
    [
        f"{sys.executable} -m proofgate.bench.simulated_repl",
        f"{sys.executable} /somewhere/proofgate/bench/simulated_repl.py --seed 1",
    ],
)
def test_the_simulated_repl_can_never_be_the_verifying_repl(tmp_path: Path, command: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", repl_command=command
    )
    with pytest.raises(ConfigError, match="simulated REPL"):
        LeanReplLauncher(settings).spawn_spec(_environment(tmp_path))


def test_the_package_exports_what_it_lists() -> None:
    assert proofgate.lean.__all__ == sorted(proofgate.lean.__all__)
    for name in proofgate.lean.__all__:
        assert getattr(proofgate.lean, name) is not None


def test_the_pool_and_the_sessions_cap_their_workers_alike(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", memory_limit_mb=512, max_processes=77)
    limits = worker_limits(settings)
    assert limits == Limits(memory_bytes=512 << 20, max_processes=77)
    unused: Any = None  # neither starts a process here
    pool = WorkerSet(settings, spawner=unused, launcher=unused, environment=unused)
    sessions = SessionWorkers(settings, spawner=unused, launcher=unused)
    assert pool.starter == sessions.starter
    assert pool.starter.limits == limits


def test_the_jail_environment_carries_nothing_of_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOME and TMPDIR inside the jail, PATH the toolchain's then the jail's system directories,
    and none of the service's HOME, PATH, data directory or settings (the old worker got them)."""
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.setenv("PATH", "/opt/service/bin:/root/.local/bin:/usr/bin:/bin")
    monkeypatch.setenv("PYTHONPATH", "/opt/service/lib")
    monkeypatch.setenv("USER", "service")
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")
    bin_dir = _fake_toolchain(settings.elan_home)
    environment = _environment(tmp_path)
    repl = environment.directory / ".lake/packages/REPL/.lake/build/bin/repl"
    repl.parent.mkdir(parents=True)
    repl.write_text("")
    env = LeanReplLauncher(settings).spawn_spec(environment).env
    assert env == {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LEAN_NUM_THREADS": str(settings.lean_threads),
    }
    assert not any(str(settings.data_dir) in value for value in env.values())


def test_a_commands_shell_words_are_split_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from proofgate.lean import launch

    splits: list[str] = []
    split = shlex.split

    def counting(command: str) -> list[str]:
        splits.append(command)
        return split(command)

    monkeypatch.setattr(launch.shlex, "split", counting)
    launch.shell_words.cache_clear()
    command = "python -S 'a dir/compiler.py' --flag"
    assert launch.shell_words(command) == ("python", "-S", "a dir/compiler.py", "--flag")
    assert launch.shell_words(command) == ("python", "-S", "a dir/compiler.py", "--flag")
    assert splits == [command]  # the audit asks for every check; shlex runs once
    launch.shell_words.cache_clear()
