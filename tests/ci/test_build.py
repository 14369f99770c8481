"""The `lake build` step, with a stand-in `lake` script (no Lean needed)."""

from __future__ import annotations

import stat
from pathlib import Path

from proofgate.ci.build import find_lake, lake_project, run_build
from proofgate.ci.results import Outcome
from proofgate.config import Settings


def fake_lake(tmp_path: Path, *, exit_code: int, output: str = "") -> Path:
    """A `lake` that records its arguments and working directory, prints `output`, exits."""
    script = tmp_path / "bin" / "lake"
    script.parent.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "lake.log"
    script.write_text(
        f'#!/bin/sh\necho "$PWD $*" >> "{log}"\ncat <<\'OUT\'\n{output}\nOUT\nexit {exit_code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "Demo").mkdir(parents=True)
    (root / "lakefile.toml").write_text('name = "demo"\n')
    return root


def test_a_passing_build_runs_lake_build_at_the_project_root(tmp_path: Path) -> None:
    root = project(tmp_path)
    lake = fake_lake(tmp_path, exit_code=0)
    failures, note = run_build(root / "Demo", lake, base=root)
    assert failures == [] and "ok" in note
    assert (tmp_path / "lake.log").read_text().split() == [str(root), "build"]


def test_lake_errors_become_failures_at_their_lines(tmp_path: Path) -> None:
    root = project(tmp_path)
    output = (
        "✖ [3/4] Building Demo.Basic\n"
        "error: ./././Demo/Basic.lean:7:2: unknown identifier 'foo'\n"
        "error: Demo/Other.lean:1:0: unexpected token\n"
        "error: build failed"
    )
    failures, note = run_build(root, fake_lake(tmp_path, exit_code=1, output=output), base=root)
    assert "failed" in note
    assert [(f.file, f.line, f.column, f.status, f.outcome) for f in failures] == [
        ("Demo/Basic.lean", 7, 2, "build_failed", Outcome.failed),
        ("Demo/Other.lean", 1, 0, "build_failed", Outcome.failed),
    ]
    assert failures[0].message == "unknown identifier 'foo'"


def test_an_unparsed_failure_points_at_the_lakefile(tmp_path: Path) -> None:
    root = project(tmp_path)
    failures, _ = run_build(
        root, fake_lake(tmp_path, exit_code=2, output="could not fetch mathlib"), base=root
    )
    (failure,) = failures
    assert (failure.file, failure.line) == ("lakefile.toml", 1)
    assert "could not fetch mathlib" in failure.message


def test_no_lakefile_or_no_lake_skips_with_a_note(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    assert lake_project(bare) is None or lake_project(bare) != bare
    failures, note = run_build(project(tmp_path), None, base=tmp_path)
    assert failures == [] and "lake not found" in note and "proofgate setup" in note


def test_find_lake_prefers_lean_home(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    lake = fake_lake(tmp_path, exit_code=0)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_lake(Settings(lean_home=tmp_path, elan_home=tmp_path / "elan")) == lake
    assert find_lake(Settings(elan_home=tmp_path / "elan")) is None
