"""The composite action's shell steps (action.yml), run with a stand-in `proofgate` on PATH that
records its arguments: the `environment` input reaches `proofgate setup` and `proofgate ci`, and
picks the Lake project whose pins key the cache."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from proofgate.config import SOURCE_ROOT

ACTION = yaml.safe_load((SOURCE_ROOT / "action.yml").read_text("utf-8"))


def run_step(name: str, tmp_path: Path, **inputs: str) -> tuple[list[str], str]:
    """Run the step named `name` as GitHub does (bash -eo pipefail); returns the stand-in
    proofgate's calls (one line of arguments each) and what the step wrote to GITHUB_OUTPUT."""
    step = next(s for s in ACTION["runs"]["steps"] if s.get("name") == name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    fake = bin_dir / "proofgate"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n', "utf-8")
    fake.chmod(0o755)
    output = tmp_path / "output"
    output.write_text("", "utf-8")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_ACTION_PATH": str(SOURCE_ROOT),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_PATH": str(tmp_path / "path"),
        "RUNNER_OS": "Linux",
        "INPUT_PATH": ".",
        "INPUT_SERVER": "",
        "INPUT_ENVIRONMENT": "",
        "INPUT_BUILD": "true",
        "INPUT_JUNIT": "",
        "INPUT_SARIF": "",
        **inputs,
    }
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=30,
    )
    made = calls.read_text("utf-8").splitlines() if calls.exists() else []
    return made, output.read_text("utf-8")


def test_the_environment_input_reaches_setup_and_ci(tmp_path: Path) -> None:
    calls, _ = run_step("proofgate setup", tmp_path, INPUT_ENVIRONMENT="lean_v4_15_0")
    assert calls == ["setup --environment lean_v4_15_0"]
    calls, output = run_step("proofgate ci", tmp_path, INPUT_ENVIRONMENT="lean_v4_15_0")
    assert calls[-1] == "ci . --environment lean_v4_15_0" and "exit-code=0" in output


def test_without_the_input_default_is_set_up_and_ci_chooses(tmp_path: Path) -> None:
    calls, _ = run_step("proofgate setup", tmp_path)
    assert calls == ["setup --environment default"]
    calls, _ = run_step("proofgate ci", tmp_path)
    assert calls[-1] == "ci ."  # the manifest, the repository's toolchain or default: ci decides


@pytest.mark.parametrize("environment", ["lean_v4_15_0", "lean_v4_9_0"])
def test_the_cache_is_keyed_by_the_chosen_projects_pins(tmp_path: Path, environment: str) -> None:
    _, default = run_step("Lean cache key", tmp_path)
    _, preset = run_step("Lean cache key", tmp_path, INPUT_ENVIRONMENT=environment)
    assert default.startswith("key=proofgate-lean-Linux-default-")
    assert preset.startswith(f"key=proofgate-lean-Linux-{environment}-")
    assert default.rsplit("-", 1)[1] != preset.rsplit("-", 1)[1]  # other pins, other digest
