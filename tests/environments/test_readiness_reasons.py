"""`proofgate doctor` gives exactly the reasons `/readyz` gives, the trusted checker included
(issue 20, "A command that cannot pass without Lean")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.environments.doctor import run_doctor
from tests.support.fake_lean import copy_pins, fake_install
from tests.support.live_app import run_app


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
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", project_dir=copy_pins(tmp_path)
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
    project, bin_dir = fake_install(tmp_path, checker=False)
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=project,
        lean_home=bin_dir.parent,
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
def test_a_warm_audit_without_its_exporter_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, bin_dir = fake_install(tmp_path)  # REPL and checker built, no exporter
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=project,
        lean_home=bin_dir.parent,
        audit_checker="warm",
    )
    report = run_doctor(settings)
    readyz = _readyz(settings)
    assert report.reasons == readyz["reasons"]
    exporter = project / ".lake" / "build" / "bin" / "proofgate-export"
    lean_side = [reason for reason in report.reasons if "sandbox" not in reason]
    assert lean_side == [
        f"exporter not built ({exporter}): run `proofgate setup` (PROOFGATE_AUDIT_CHECKER=warm)"
    ]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("compiler", ["elab", "zygote"])
def test_the_elaborator_is_needed_instead_of_the_exporter_when_it_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiler: str
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, bin_dir = fake_install(tmp_path)  # REPL and checker built, no exporter, no elab
    common = dict(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=project,
        lean_home=bin_dir.parent,
        audit_checker="warm",
    )
    settings = Settings(**common, audit_compiler=compiler)
    report = run_doctor(settings)
    assert report.reasons == _readyz(settings)["reasons"]
    elab = project / ".lake" / "build" / "bin" / "proofgate-elab"
    lean_side = [reason for reason in report.reasons if "sandbox" not in reason]
    assert lean_side == [  # the exporter is not asked for: the elaborator writes the exports
        f"proofgate-elab not built ({elab}): run `proofgate setup` "
        f"(PROOFGATE_AUDIT_COMPILER={compiler})"
    ]
    given = Settings(**common, audit_compiler=compiler, **{f"{compiler}_command": "/opt/my-elab"})
    assert [r for r in run_doctor(given).reasons if "sandbox" not in r] == []


@pytest.mark.timeout(180)
def test_cli_doctor_json_carries_the_readiness_reasons(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_PROJECT_DIR=str(copy_pins(tmp_path)),
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
