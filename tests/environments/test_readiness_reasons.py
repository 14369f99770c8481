"""`proofgate doctor` gives exactly the reasons `/readyz` gives, the trusted checker included
(issue 20, "A command that cannot pass without Lean")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import SOURCE_ROOT, Settings
from proofgate.environments.doctor import run_doctor
from tests.support.live_app import run_app


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("lean-toolchain", "lake-manifest.json", "lakefile.lean"):
        shutil.copy(SOURCE_ROOT / name, project / name)
    return project


def _fake_toolchain(tmp_path: Path, project: Path) -> Path:
    """`lean` at the pinned version, `lake`, Mathlib's root olean and the REPL: all but the checker."""
    bin_dir = tmp_path / "toolchain" / "bin"
    bin_dir.mkdir(parents=True)
    version = (project / "lean-toolchain").read_text().strip().rsplit(":v", 1)[-1]
    (bin_dir / "lean").write_text(f"#!/bin/sh\necho 'Lean (version {version}, fake)'\n")
    (bin_dir / "lake").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    packages = project / ".lake" / "packages"
    olean = packages / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
    olean.parent.mkdir(parents=True)
    olean.write_text("")
    repl = packages / "REPL" / ".lake" / "build" / "bin" / "repl"
    repl.parent.mkdir(parents=True)
    repl.write_text("")
    return bin_dir.parent


def _readyz(settings: Settings) -> dict[str, object]:
    with run_app(create_app(settings), timeout=60) as url:
        response = httpx.get(url + "/readyz", timeout=30)
    assert response.status_code == 503
    body: dict[str, object] = response.json()
    return body


@pytest.mark.timeout(180)
def test_nothing_installed_doctor_and_readyz_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", project_dir=_project(tmp_path)
    )
    report = run_doctor(settings)
    readyz = _readyz(settings)
    assert report.reasons == readyz["reasons"]
    assert any("Lean toolchain" in reason for reason in report.reasons)
    assert any("trusted checker not built" in reason for reason in report.reasons)
    assert report.problems[: len(report.reasons)] == report.reasons and not report.ready


@pytest.mark.timeout(180)
def test_only_the_checker_missing_doctor_and_readyz_both_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project = _project(tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=project,
        lean_home=_fake_toolchain(tmp_path, project),
    )
    report = run_doctor(settings)
    readyz = _readyz(settings)
    assert report.reasons == readyz["reasons"]
    checker = project / ".lake" / "build" / "bin" / "proofgate-checker"
    lean_side = [reason for reason in report.reasons if "sandbox" not in reason]
    assert lean_side == [f"trusted checker not built ({checker}): run `proofgate setup`"]
    names = {check.name: check for check in report.checks}
    assert names["default:checker"].ok is False and names["default:checker"].required


@pytest.mark.timeout(180)
def test_cli_doctor_json_carries_the_readiness_reasons(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_PROJECT_DIR=str(_project(tmp_path)),
    )
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert any("trusted checker not built" in reason for reason in report["reasons"])
    assert report["problems"][: len(report["reasons"])] == report["reasons"]
