"""Each environment finds its own toolchain: PROOFGATE_LEAN_HOME is `default`'s only, another
takes PROOFGATE_LEAN_HOME__<DIR>; doctor reports every environment; `setup --all` sets up each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.doctor import run_doctor
from proofgate.environments.registry import discover_environments
from proofgate.environments.setup import run_setup_all
from proofgate.environments.toolchain import find_lean, lean_home_variable
from proofgate.exceptions import SetupError
from tests.environments.toolchains import fake_environment, fake_toolchain
from tests.support.server import free_port


@pytest.fixture(autouse=True)
def _no_lean_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    options: dict[str, object] = dict(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=tmp_path / "project",
        download_timeout=2.0,
    )
    options.update(overrides)
    return Settings(**options)  # type: ignore[arg-type]


def test_the_variable_is_the_upper_cased_directory_name() -> None:
    assert lean_home_variable("default") == "PROOFGATE_LEAN_HOME"
    assert lean_home_variable("lean_v4_9_0") == "PROOFGATE_LEAN_HOME__LEAN_V4_9_0"
    assert lean_home_variable("mathlib-2024.05") == "PROOFGATE_LEAN_HOME__MATHLIB_2024_05"


def test_proofgate_lean_home_is_the_default_environments_only(tmp_path: Path) -> None:
    """The bug of issue 26: with PROOFGATE_LEAN_HOME set, an environment pinned to another Lean
    found that home's lean first and failed its version check."""
    homes = tmp_path / "homes"
    default = fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes)
    fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    elan_bin = fake_toolchain(
        tmp_path / "elan" / "toolchains" / "leanprover--lean4---v4.9.0", "v4.9.0"
    )
    settings = _settings(tmp_path, lean_home=default.home)
    environments = discover_environments(settings)
    old = find_lean(settings, environments["lean_v4_9_0"])
    assert old.lean == elan_bin / "bin" / "lean" and old.version == "v4.9.0"
    assert not any("pinned" in problem for problem in old.problems)
    assert find_lean(settings, environments["default"]).lean == default.home / "bin" / "lean"


def test_each_environment_takes_its_own_home_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = tmp_path / "homes"
    default = fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes)
    old = fake_environment(tmp_path / "project", "lean_v4_15_0", "v4.15.0", homes=homes)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(old.home))
    # A Lean of the default's version on PATH never serves the other environment.
    monkeypatch.setenv("PATH", f"{default.home / 'bin'}{os.pathsep}/usr/bin:/bin")
    settings = _settings(tmp_path, lean_home=default.home)
    environments = discover_environments(settings)
    found = find_lean(settings, environments["lean_v4_15_0"])
    assert (found.lean, found.version, found.problems) == (old.home / "bin" / "lean", "v4.15.0", ())
    assert find_lean(settings, environments["default"]).version == "v4.32.0"


def test_a_lean_of_another_version_earlier_on_the_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = tmp_path / "homes"
    newer = fake_toolchain(homes / "newer", "v4.32.0")
    older = fake_toolchain(homes / "older", "v4.9.0")
    fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes, installed=False)
    fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    monkeypatch.setenv("PATH", os.pathsep.join([str(newer / "bin"), str(older / "bin"), "/bin"]))
    settings = _settings(tmp_path)
    environments = discover_environments(settings)
    assert find_lean(settings, environments["lean_v4_9_0"]).lean == older / "bin" / "lean"
    assert find_lean(settings, environments["default"]).lean == newer / "bin" / "lean"


def test_a_wrong_version_names_the_environments_own_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = tmp_path / "homes"
    default = fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes)
    fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_9_0", str(default.home))  # a v4.32.0 Lean
    settings = _settings(tmp_path)
    found = find_lean(settings, discover_environments(settings)["lean_v4_9_0"])
    [toolchain_problem] = [p for p in found.problems if p.startswith("Lean at")]
    assert "is v4.32.0, pinned v4.9.0" in toolchain_problem
    assert "PROOFGATE_LEAN_HOME__LEAN_V4_9_0" in toolchain_problem
    assert "proofgate setup --environment lean_v4_9_0" in toolchain_problem


def test_doctor_reports_each_environment_and_only_default_is_required(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    default = fake_environment(
        tmp_path / "project", "default", "v4.32.0", homes=homes, mathlib_rev="a" * 40
    )
    fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    report = run_doctor(_settings(tmp_path, lean_home=default.home))
    statuses = report.to_json()["environments"]
    assert isinstance(statuses, dict)
    assert statuses["default"] == {
        "ready": True,
        "lean": "v4.32.0",
        "lean_found": "v4.32.0",
        "mathlib": "a" * 40,
        "problems": [],
    }
    old = statuses["lean_v4_9_0"]
    assert old["ready"] is False and old["lean"] == "v4.9.0" and old["lean_found"] is None
    assert any("Lean toolchain v4.9.0 not found" in p for p in old["problems"])
    # The absent environment is reported, but does not make the machine unready.
    assert not any(p.startswith("lean_v4_9_0:") for p in report.problems)
    checks = {check.name: check for check in report.checks}
    assert checks["lean_v4_9_0:toolchain"].ok is False
    assert checks["lean_v4_9_0:toolchain"].required is False
    assert checks["default:toolchain"].required is True


def test_setup_all_sets_up_each_and_names_the_one_that_failed(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    default = fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes)
    fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    refusing = f"http://127.0.0.1:{free_port()}/nothing-listens-here"
    settings = _settings(
        tmp_path,
        lean_home=default.home,
        elan_installer_url=refusing,
        toolchain_release_url=refusing,
        mathlib_cache_url=refusing,
    )
    lines: list[str] = []
    with pytest.raises(SetupError) as info:
        run_setup_all(settings, progress=lines.append)
    message = str(info.value)
    assert message.startswith("1 environment(s) not set up")
    assert "lean_v4_9_0: cannot reach" in message and "default:" not in message
    # default was looked at first and needed nothing
    assert lines[:2] == ["setup: environment default", "everything is already set up"]
    assert "setup: environment lean_v4_9_0 failed" in lines


def test_cli_setup_refuses_all_with_an_environment(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/usr/bin:/bin", PROOFGATE_ELAN_HOME=str(tmp_path / "elan"))
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "setup", "--all", "--environment", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--all" in done.stderr


def test_doctor_json_lists_the_environments(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes, installed=False)
    fake_environment(tmp_path / "project", "lean_v4_26_0", "v4.26.0", homes=homes)
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_PROJECT_DIR=str(tmp_path / "project"),
        PROOFGATE_LEAN_HOME__LEAN_V4_26_0=str(homes / "lean_v4_26_0"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    statuses = json.loads(done.stdout)["environments"]
    assert statuses["lean_v4_26_0"]["ready"] is True
    assert statuses["lean_v4_26_0"]["lean_found"] == "v4.26.0"
    assert statuses["default"]["ready"] is False


def test_the_launcher_refuses_a_toolchain_of_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built pieces present, but the Lean found is not the pinned one: no REPL is started on it."""
    from proofgate.exceptions import LeanUnavailable
    from proofgate.lean.launch import LeanReplLauncher

    homes = tmp_path / "homes"
    default = fake_environment(tmp_path / "project", "default", "v4.32.0", homes=homes)
    old = fake_environment(tmp_path / "project", "lean_v4_9_0", "v4.9.0", homes=homes)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_9_0", str(default.home))
    settings = _settings(tmp_path, lean_home=default.home)
    environments = discover_environments(settings)
    launcher = LeanReplLauncher(settings)
    with pytest.raises(LeanUnavailable, match=r"'lean_v4_9_0'.*is v4\.32\.0, pinned v4\.9\.0"):
        launcher.spawn_spec(environments["lean_v4_9_0"])
    assert launcher.spawn_spec(environments["default"]).cwd == default.directory
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_9_0", str(old.home))
    spec = LeanReplLauncher(settings).spawn_spec(environments["lean_v4_9_0"])
    assert spec.argv[0] == str(old.home / "bin" / "lake")
