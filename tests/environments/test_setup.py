from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.setup import run_setup
from proofgate.exceptions import SetupError
from tests.support.server import free_port


def _refusing_url() -> str:
    return f"http://127.0.0.1:{free_port()}/nothing-listens-here"


def test_offline_setup_fails_fast_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    url = _refusing_url()
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        elan_installer_url=url,
        toolchain_release_url=url,
        mathlib_cache_url=url,
        download_timeout=2.0,
    )
    started = time.monotonic()
    with pytest.raises(SetupError) as info:
        run_setup(settings, progress=lambda _line: None)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert url in message and "Nothing was changed" in message and "PROOFGATE_LEAN_HOME" in message
    assert not (tmp_path / "elan").exists()


def test_cli_setup_offline_exits_3(tmp_path: Path) -> None:
    url = _refusing_url()
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_ELAN_INSTALLER_URL=url,
        PROOFGATE_TOOLCHAIN_RELEASE_URL=url,
        PROOFGATE_MATHLIB_CACHE_URL=url,
        PROOFGATE_DOWNLOAD_TIMEOUT="2",
    )
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "cannot reach" in done.stderr and url in done.stderr.replace("\n", "")


def test_plan_builds_the_repl_and_the_checker_until_both_exist(tmp_path: Path) -> None:
    from proofgate.environments.registry import Environment
    from proofgate.environments.setup import plan_setup

    project = tmp_path / "project"
    (project / ".lake" / "build" / "bin").mkdir(parents=True)
    environment = Environment("default", project, "leanprover/lean4:v4.32.0", {"REPL": "abc"})
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")

    def build_needed() -> bool:
        return next(
            s for s in plan_setup(settings, environment) if s.name == "build lean targets"
        ).needed

    assert build_needed()
    repl = project / ".lake" / "packages" / "REPL" / ".lake" / "build" / "bin" / "repl"
    repl.parent.mkdir(parents=True)
    repl.write_text("")
    assert build_needed()  # the trusted checker is still missing
    (project / ".lake" / "build" / "bin" / "proofgate-checker").write_text("")
    assert not build_needed()
