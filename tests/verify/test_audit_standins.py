"""The stand-in compiler and checker fail where Lean and the real checker fail.

The rules they model (Lean v4.32.0's `moduleNameOfFileName`, the checker's statement comparison)
are what the audit's Python side depends on; a wrong call must fail here before it reaches Lean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "standins"
COMPILER = STANDINS / "compiler.py"
CHECKER = STANDINS / "checker.py"
OLEAN_MARKER = b"standin-olean\n"


def compile_(
    source: Path, *args: str, cwd: Path, olean: Path | None = None
) -> subprocess.CompletedProcess[str]:
    olean = olean or source.with_suffix(".olean")
    return subprocess.run(
        [sys.executable, str(COMPILER), "--json", *args, "-o", str(olean), str(source)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def record(olean: Path) -> dict[str, Any]:
    data = olean.read_bytes()
    assert data.startswith(OLEAN_MARKER)
    result: dict[str, Any] = json.loads(data[len(OLEAN_MARKER) :])
    return result


@pytest.fixture
def source(tmp_path: Path) -> Path:
    directory = tmp_path / "data" / ".building-0123abcd"
    directory.mkdir(parents=True)
    path = directory / "ProofgateSubmission.lean"
    path.write_text("import Mathlib\n\ntheorem t1 : 1 = 1 := rfl\n", encoding="utf-8")
    return path


def test_a_source_outside_the_root_is_refused_with_leans_message(
    tmp_path: Path, source: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    run = compile_(source, cwd=project)  # no -R: the root is the working directory
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.strip() == (
        f"input file '{source}' must be contained in root directory ({project}/)"
    )
    assert not source.with_suffix(".olean").exists()
    elsewhere = compile_(source, "-R", str(project), cwd=source.parent)
    assert elsewhere.returncode == 1 and "must be contained in root directory" in elsewhere.stderr


@pytest.mark.parametrize(
    ("root", "module"),
    [
        ("file's directory", "ProofgateSubmission"),
        ("data directory", ".building-0123abcd.ProofgateSubmission"),
    ],
)
def test_the_module_name_is_the_path_under_the_root(
    tmp_path: Path, source: Path, root: str, module: str
) -> None:
    directory = source.parent if root == "file's directory" else tmp_path / "data"
    for args in (["-R", str(directory)], [f"--root={directory}"]):
        run = compile_(source, *args, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert record(source.with_suffix(".olean"))["module"] == module
    run = compile_(source, cwd=directory)  # the working directory is the default root
    assert record(source.with_suffix(".olean"))["module"] == module


def test_the_root_and_the_file_are_compared_by_real_path(tmp_path: Path, source: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(source.parent)
    run = compile_(link / source.name, "-R", str(source.parent), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert record(source.with_suffix(".olean"))["module"] == "ProofgateSubmission"


def test_the_record_names_private_declarations_after_the_module(
    tmp_path: Path, source: Path
) -> None:
    source.write_text(
        "import Mathlib\n\nnamespace N\nprivate def d : ℕ := 1\n\ntheorem t1 : d = 1 := rfl\n"
        "end N\n-- standin-axioms: propext\n",
        encoding="utf-8",
    )
    run = compile_(source, "-R", str(source.parent), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    compiled = record(source.with_suffix(".olean"))
    names = [d["name"] for d in compiled["declarations"]]
    assert names == ["_private.ProofgateSubmission.0.N.d", "N.t1"]
    assert compiled["axioms"] == ["propext"] and compiled["imports"] == ["Mathlib"]
    assert compiled["declarations"][1]["uses"] == ["d"]


def _check(
    tmp_path: Path, statement: str, code: str, *args: str, scenario: dict[str, Any] | None = None
) -> dict[str, Any]:
    oleans = []
    for name, text in (("challenge", statement), ("submission", code)):
        directory = tmp_path / name
        directory.mkdir()
        path = directory / "ProofgateSubmission.lean"
        path.write_text(text, encoding="utf-8")
        assert compile_(path, "-R", str(directory), cwd=tmp_path).returncode == 0
        oleans.append(path.with_suffix(".olean"))
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(scenario or {}))
    argv = [sys.executable, str(CHECKER), str(scenario_file), "--submission", str(oleans[1])]
    argv += ["--challenge", str(oleans[0]), "--target", "t1", "--axiom", "propext", *args]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


STATEMENT = "import Mathlib\n\ntheorem t1 (n : ℕ) : n + 0 = n := by sorry\n"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("import Mathlib\n\ntheorem t1 (n : ℕ) :\n    n + 0 = n := by simp\n", "ok"),
        ("import Mathlib\n\ntheorem t1 (n : ℕ) : 0 + n = n := by simp\n", "type_mismatch"),
        ("import Mathlib\n\ntheorem t2 (n : ℕ) : n + 0 = n := by simp\n", "target_missing"),
        ("import Mathlib\n\ndef t1 (n : ℕ) : n + 0 = n := by simp\n", "not_a_theorem"),
    ],
    ids=["same-statement", "other-statement", "missing", "definition"],
)
def test_the_checker_compares_the_targets_statement(
    tmp_path: Path, code: str, outcome: str
) -> None:
    assert _check(tmp_path, STATEMENT, code)["outcome"] == outcome


def test_the_checker_reports_the_axioms_the_source_declares(tmp_path: Path) -> None:
    code = (
        STATEMENT.replace("by sorry", "by simp") + "-- standin-axioms: propext Classical.choice\n"
    )
    report = _check(tmp_path, STATEMENT, code)
    assert report["target_axioms"] == ["Classical.choice", "propext"]
    assert report["disallowed_axioms"] == ["Classical.choice"]
