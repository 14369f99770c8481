"""The simulated Lean toolchain and the test stand-ins share one reading of Lean's facts: the
checker's command line and the options Lean declares before any import (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.bench import simulated_lean, simulated_repl
from proofgate.bench.audit_model import CHECKER, AuditModel, install_toolchain

STANDINS = Path(__file__).resolve().parents[1] / "standins"


@pytest.fixture(scope="module")
def checkers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """How to run each checker, and the .olean each one accepts (`OLEAN` in the argv)."""
    root = tmp_path_factory.mktemp("toolchain")
    install_toolchain(
        root / "elan",
        root / "project",
        AuditModel(import_seconds=0),
        repl_import_seconds=0,
        lean_version="v4.32.0",
        python=Path(sys.executable),
    )
    source = root / "A.lean"
    source.write_text("theorem t : True := trivial\n", "utf-8")
    compiled = {"simulated": root / "A.olean", "stand-in": root / "B.olean"}
    lean = [str(root / "elan" / "bin" / "lean"), "--json", "-R", str(root), "-o"]
    subprocess.run([*lean, str(compiled["simulated"]), str(source)], check=True)
    compiler = [sys.executable, str(STANDINS / "compiler.py"), "--json", "-R", str(root), "-o"]
    subprocess.run([*compiler, str(compiled["stand-in"]), str(source)], check=True)
    scenario = root / "scenario.json"
    scenario.write_text("{}", "utf-8")
    return {
        "simulated": [str(root / "project" / CHECKER), str(compiled["simulated"])],
        "stand-in": [
            sys.executable,
            str(STANDINS / "checker.py"),
            str(scenario),
            str(compiled["stand-in"]),
        ],
    }


def _run(checker: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    *command, olean = checker
    return subprocess.run(
        [*command, "--submission", olean, *argv], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("which", ["simulated", "stand-in"])
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--challenge", "X.olean"], "--challenge and --target go together"),
        (["--target", "t"], "--challenge and --target go together"),
        (["--answer-hole", "h"], "--answer-hole needs --challenge"),
    ],
)
def test_both_checkers_refuse_an_argv_the_real_one_refuses(
    checkers: dict[str, list[str]], which: str, argv: list[str], says: str
) -> None:
    # Behaviour pinned: the simulated checker used to take these and judge a free compile.
    refused = _run(checkers[which], *argv)
    assert refused.returncode == 2 and says in refused.stderr and refused.stdout == ""


@pytest.mark.parametrize("which", ["simulated", "stand-in"])
def test_both_checkers_judge_a_free_compile(checkers: dict[str, list[str]], which: str) -> None:
    judged = _run(checkers[which], "--axiom", "propext")
    assert judged.returncode == 0 and '"outcome": "ok"' in judged.stdout


def test_the_stand_ins_load_the_simulated_lean_without_the_proofgate_package() -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import compiler; "
        "assert 'proofgate' not in sys.modules; print(sorted(compiler.BUILTIN_OPTIONS))"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", script, str(STANDINS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == str(sorted(simulated_lean.BUILTIN_OPTIONS))
    assert simulated_repl.BUILTIN_OPTIONS is simulated_lean.BUILTIN_OPTIONS
