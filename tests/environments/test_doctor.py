from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.doctor import run_doctor


def _fake_toolchain(root: Path, version: str) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    lean = bin_dir / "lean"
    lean.write_text(
        f"#!/bin/sh\necho 'Lean (version {version}, x86_64-unknown-linux-gnu, Release)'\n"
    )
    (bin_dir / "lake").write_text("#!/bin/sh\necho 'Lake version 5.0.0'\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return root


def _by_name(settings: Settings) -> dict[str, tuple[bool, str]]:
    return {check.name: (check.ok, check.detail) for check in run_doctor(settings).checks}


def test_missing_toolchain_is_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    report = run_doctor(settings)
    assert not report.ready
    assert any(
        "Lean toolchain v4.32.0 not found" in problem or "lean" in problem
        for problem in report.problems
    )
    assert _by_name(settings)["default:lean"][0] is False


def test_fake_toolchain_with_pinned_version_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    home = _fake_toolchain(tmp_path / "lean", "4.32.0")
    checks = _by_name(Settings(lean_home=home, data_dir=tmp_path / "d", elan_home=tmp_path / "e"))
    assert checks["default:lean"] == (True, str(home / "bin" / "lean"))
    assert checks["default:toolchain"][0] is True
    # Mathlib and the REPL are still missing, so the service is not ready.
    assert checks["default:mathlib"][0] is False
    assert checks["default:repl"][0] is False


def test_wrong_toolchain_version_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    home = _fake_toolchain(tmp_path / "lean", "4.9.0")
    checks = _by_name(Settings(lean_home=home, data_dir=tmp_path / "d", elan_home=tmp_path / "e"))
    assert checks["default:toolchain"] == (False, "found v4.9.0, pinned v4.32.0")


def test_fake_toolchain_found_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_toolchain(tmp_path / "lean", "4.32.0")
    monkeypatch.setenv("PATH", f"{home / 'bin'}{os.pathsep}/usr/bin:/bin")
    assert _by_name(Settings(data_dir=tmp_path / "d", elan_home=tmp_path / "e"))[
        "default:toolchain"
    ][0]


def test_cli_doctor_json_exits_nonzero_naming_what_is_missing(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/usr/bin:/bin", PROOFGATE_ELAN_HOME=str(tmp_path / "elan"))
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    report = json.loads(done.stdout)
    assert report["ready"] is False
    failing = {check["name"] for check in report["checks"] if not check["ok"] and check["required"]}
    assert {"default:lean", "default:mathlib", "default:repl"} <= failing
