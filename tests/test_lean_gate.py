"""`PROOFGATE_REQUIRE_LEAN=1 python -m pytest -m lean` fails, not skips, without the toolchain,
Mathlib, the REPL or the trusted checker (tests/conftest.py and tests/support/lean_gate.py).

Each case runs pytest in a subprocess on a generated test file, with the suite's own conftest
loaded as a plugin, so the skip and the gate are the ones `pytest -m lean` uses.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from proofgate.config import SOURCE_ROOT
from tests.support.fake_lean import fake_install
from tests.support.subpytest import run_pytest

LEAN_TEST = """
import pytest

@pytest.mark.lean
def test_needs_lean():
    assert True

def test_plain():
    assert True
"""

SKIPS_ITSELF = """
import pytest

@pytest.mark.lean
def test_needs_lean():
    pytest.skip("the transcripts are not here")
"""

MODULE_SKIP = """
import pytest

pytestmark = pytest.mark.lean
pytest.skip("no Lean at import", allow_module_level=True)

def test_never_collected():
    pass
"""


def _pytest(
    tmp_path: Path,
    source: str,
    *,
    require: bool,
    project: Path | None = None,
    bin_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    tests = tmp_path / "sample"
    tests.mkdir(exist_ok=True)
    (tests / "test_sample.py").write_text(source, "utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "PYTEST_ADDOPTS") and not k.startswith("PROOFGATE_")
    }
    env["PYTHONPATH"] = str(SOURCE_ROOT)
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin:/bin" if bin_dir else "/usr/bin:/bin"
    env["PROOFGATE_ELAN_HOME"] = str(tmp_path / "elan")
    env["PROOFGATE_DATA_DIR"] = str(tmp_path / "data")
    if project is not None:
        env["PROOFGATE_PROJECT_DIR"] = str(project)
    if require:
        env["PROOFGATE_REQUIRE_LEAN"] = "1"
    return run_pytest(
        "-rfs",
        "-p",
        "tests.conftest",
        "-m",
        "lean or not lean",
        str(tests / "test_sample.py"),
        cwd=tests,
        env=env,
    )


def _failed_one(stdout: str) -> bool:
    """The `lean` test failed (at setup, where the skip mark acts, pytest calls it an error)."""
    return ("1 failed" in stdout or "1 error" in stdout) and "1 passed" in stdout


@pytest.mark.timeout(180)
def test_without_the_variable_missing_lean_is_a_skip(tmp_path: Path) -> None:
    result = _pytest(tmp_path, LEAN_TEST, require=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout and "lean/lake not on PATH" in result.stdout


@pytest.mark.timeout(180)
def test_required_and_no_toolchain_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, LEAN_TEST, require=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _failed_one(result.stdout)
    assert "PROOFGATE_REQUIRE_LEAN=1" in result.stdout and "lean/lake not on PATH" in result.stdout


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ({"mathlib"}, "Mathlib oleans missing"),
        ({"repl"}, "REPL binary missing"),
        ({"checker"}, "trusted checker not built"),
    ],
    ids=["mathlib", "repl", "checker"],
)
def test_required_and_one_piece_missing_fails_naming_it(
    tmp_path: Path, missing: set[str], named: str
) -> None:
    pieces = {name: name not in missing for name in ("mathlib", "repl", "checker")}
    project, bin_dir = fake_install(tmp_path, **pieces)
    result = _pytest(tmp_path, LEAN_TEST, require=True, project=project, bin_dir=bin_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _failed_one(result.stdout) and named in result.stdout


@pytest.mark.timeout(180)
def test_required_with_everything_present_runs_the_lean_tests(tmp_path: Path) -> None:
    project, bin_dir = fake_install(tmp_path)
    result = _pytest(tmp_path, LEAN_TEST, require=True, project=project, bin_dir=bin_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.timeout(180)
@pytest.mark.parametrize("source", [SKIPS_ITSELF, MODULE_SKIP], ids=["in-test", "module"])
def test_required_and_a_lean_test_skipping_for_another_reason_fails(
    tmp_path: Path, source: str
) -> None:
    project, bin_dir = fake_install(tmp_path)
    result = _pytest(tmp_path, source, require=True, project=project, bin_dir=bin_dir)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "PROOFGATE_REQUIRE_LEAN=1" in result.stdout
