"""The CI gate (tests/support/ci_gate.py): under CI a skip fails the run, except `lean` and `peer`
tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.subpytest import run_pytest

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """
import pytest

@pytest.mark.lean
def test_needs_lean():
    pytest.skip("no Lean here")

@pytest.mark.peer
def test_needs_a_peer_checkout():
    pytest.skip("no Kimina checkout")

def test_needs_bwrap():
    pytest.skip("bubblewrap not installed")

def test_runs():
    assert True
"""

MODULE_SKIP = 'import pytest\npytest.importorskip("a_module_that_is_not_there")\n'


def _pytest(tmp_path: Path, ci: str | None, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source, "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return run_pytest(
        "-p",
        "tests.support.ci_gate",
        "-m",
        "lean or not lean",
        str(tmp_path / "test_sample.py"),
        cwd=tmp_path,
        env=env,
    )


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    result = _pytest(tmp_path, None, SAMPLE)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped" in result.stdout


def test_ci_false_is_off(tmp_path: Path) -> None:
    assert _pytest(tmp_path, "false", SAMPLE).returncode == 0


def test_under_ci_a_skip_fails_but_a_lean_or_peer_skip_does_not(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "1", SAMPLE)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 2 skipped" in result.stdout
    assert "skipped under CI" in result.stdout and "bubblewrap not installed" in result.stdout


def test_under_ci_a_module_level_skip_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "true", MODULE_SKIP)
    assert result.returncode != 0, result.stdout
    assert "skipped under CI" in result.stdout
