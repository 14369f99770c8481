"""`proofgate lint`: the policy pass alone, its exit codes and its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from proofgate.cli import app
from proofgate.config import SOURCE_ROOT
from proofgate.verify.rules import RULES
from tests.support.adversarial import OWN_CASES, load_cases

runner = CliRunner()
STATEMENT = (
    "import Mathlib\nopen Real Nat Topology\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
)


def lint(
    tmp_path: Path, code: str, *args: str, statement: str | None = None
) -> tuple[int, Any, str]:
    """Run `proofgate lint --json` on `code`; (exit code, parsed stdout or None, stderr)."""
    source = tmp_path / "Sub.lean"
    source.write_text(code, encoding="utf-8")
    argv = ["lint", str(source), "--json", *args]
    if statement is not None:
        (tmp_path / "Stmt.lean").write_text(statement, encoding="utf-8")
        argv += ["--statement", str(tmp_path / "Stmt.lean")]
    result = runner.invoke(app, argv)
    payload = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, payload, result.stderr


def _judge(tmp_path: Path, case: dict[str, Any]) -> None:
    code, payload, _ = lint(tmp_path, case["code"])
    if case["stage"] == "policy":
        assert code == 1 and payload["ok"] is False, case["id"]
        assert payload["violations"] and all(v["rule"] in RULES for v in payload["violations"])
    if case["expect"] == "accept":
        assert code == 0 and payload == {"ok": True, "violations": []}, case["id"]
    if case["statement"] is not None:
        code, payload, _ = lint(tmp_path, case["code"], statement=case["statement"])
        assert code == (0 if payload["ok"] else 1)
        if case["expect"] == "accept":
            assert code == 0, case["id"]


def test_shared_cases_through_the_cli(tmp_path: Path, shared_dir: Path) -> None:
    for case in load_cases(shared_dir / "adversarial" / "cases.jsonl"):
        _judge(tmp_path, case)


def test_own_cases_through_the_cli(tmp_path: Path) -> None:
    for case in load_cases(OWN_CASES):
        _judge(tmp_path, case)


def test_json_shape_is_exactly_the_contract(tmp_path: Path) -> None:
    code, payload, _ = lint(tmp_path, "import Mathlib\n#exit\n")
    assert code == 1 and set(payload) == {"ok", "violations"}
    (violation,) = payload["violations"]
    assert violation == {"rule": "exit", "line": 2, "column": 0, "message": violation["message"]}
    assert "#exit" in violation["message"]


def test_human_output(tmp_path: Path) -> None:
    source = tmp_path / "Bad.lean"
    source.write_text("import Mathlib\nset_option maxHeartbeats 0 in\nexample : True := trivial\n")
    result = runner.invoke(app, ["lint", str(source)])
    assert result.exit_code == 1
    assert f"{source}:2:26: [heartbeats]" in result.stdout  # 1-based, as editors count
    assert "refused: 1 violation" in result.stderr
    source.write_text("import Mathlib\nexample : True := trivial\n")
    result = runner.invoke(app, ["lint", str(source)])
    assert result.exit_code == 0 and result.stdout == "" and "ok" in result.stderr


def test_profiles(tmp_path: Path) -> None:
    text = "import Mathlib\nexample : 2 + 2 = 4 := by native_decide\n#eval 2 + 2\n"
    assert lint(tmp_path, text)[0] == 1
    assert lint(tmp_path, text, "--profile", "permissive")[0] == 0
    code, _, _stderr = lint(tmp_path, "x", "--profile", "lenient")
    assert code == 2


def test_profile_default_comes_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROOFGATE_POLICY", "permissive")
    assert lint(tmp_path, "#eval 2 + 2\n")[0] == 0
    monkeypatch.setenv("PROOFGATE_HEARTBEAT_CAP", "1000")
    assert lint(tmp_path, "set_option maxHeartbeats 5000\n", "--profile", "strict")[0] == 1


def test_permissive_notes_go_to_stderr(tmp_path: Path) -> None:
    source = tmp_path / "High.lean"
    source.write_text("set_option maxHeartbeats 5000000 in\nexample : True := trivial\n")
    result = runner.invoke(app, ["lint", str(source), "--profile", "permissive"])
    assert result.exit_code == 0 and "lowered to the cap" in result.stderr


def test_statement_with_a_proof(tmp_path: Path) -> None:
    proof = "by omega\n\nrun_cmd pure ()\n"
    code, payload, _ = lint(tmp_path, proof, "--proof", statement=STATEMENT)
    assert code == 1
    (violation,) = payload["violations"]
    assert (violation["rule"], violation["line"], violation["column"]) == ("run-code", 3, 0)
    assert lint(tmp_path, "by omega", "--proof", statement=STATEMENT)[0] == 0


def test_statement_violations_are_reported(tmp_path: Path) -> None:
    statement = "set_option debug.skipKernelTC true\n" + STATEMENT
    code, payload, _ = lint(tmp_path, "by omega", "--proof", statement=statement)
    assert code == 1 and payload["violations"][0]["message"].startswith("in the statement: ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["lint", "/nonexistent/Sub.lean"], "does not exist"),
        (["lint", "{tmp}"], "is a directory"),
        (["lint", "{tmp}/Sub.lean", "--proof"], "--proof needs --statement"),
        (["lint", "{tmp}/Sub.lean", "--statement", "{tmp}/Sub.lean"], "no named `theorem`"),
        (["lint", "{tmp}/Sub.lean", "--environment", "nowhere"], "unknown environment"),
        (["lint"], "Missing argument"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "Sub.lean").write_text("def x := 1\n")
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())  # rich may wrap long lines


def test_stdin_that_is_not_utf8_is_a_usage_error() -> None:
    # lint reads FILE with the other commands' reader; its own let a decode error escape
    result = runner.invoke(app, ["lint", "-"], input=b"theorem caf\xe9")
    assert result.exit_code == 2
    assert "cannot read file -: 'utf-8' codec can't decode" in " ".join(result.stderr.split())


def test_stdin(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", "-", "--json"], input="#eval 1\n")
    assert result.exit_code == 1 and json.loads(result.stdout)["violations"][0]["rule"] == "eval"


def test_environment_roots_decide_imports(tmp_path: Path) -> None:
    assert lint(tmp_path, "import Mathlib.Tactic\nimport Batteries\n")[0] == 0
    code, payload, _ = lint(tmp_path, "import REPL\nimport LeanSearchClient\n")
    assert code == 1 and [v["rule"] for v in payload["violations"]] == ["import-not-allowed"] * 2


def test_registered_in_the_real_command(tmp_path: Path) -> None:
    source = tmp_path / "Sub.lean"
    source.write_text("import Mathlib\n#exit\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFGATE_")}
    env["PROOFGATE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "lint", str(source), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=SOURCE_ROOT,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["violations"][0]["rule"] == "exit"


# --- inside a Lake project, and --no-sorry (issue 30, defect 4) --------------------------------

SIBLING = (
    "import Mathlib\nimport MyProject.Helper\nimport Extra.Thing\n\ntheorem t : True := trivial\n"
)


@pytest.mark.parametrize(
    ("name", "lakefile"),
    [
        (
            "lakefile.lean",
            "import Lake\nopen Lake DSL\n\npackage myProject\n\nlean_lib MyProject\n\n"
            "lean_lib «Other» where\n  roots := #[`Extra, `Other]\n",
        ),
        (
            "lakefile.toml",
            'name = "myProject"\n\n[[lean_lib]]\nname = "MyProject"\n\n'
            '[[lean_lib]]\nname = "Other"\nroots = ["Extra.Thing", "Other"]\n',
        ),
    ],
)
def test_a_lake_projects_own_libraries_are_importable_inside_it(
    tmp_path: Path, name: str, lakefile: str
) -> None:
    (tmp_path / name).write_text(lakefile)
    (tmp_path / "MyProject").mkdir()
    assert lint(tmp_path / "MyProject", SIBLING)[0] == 0
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    code, payload, _ = lint(outside, SIBLING)
    assert code == 1 and [v["rule"] for v in payload["violations"]] == ["import-not-allowed"] * 2


def test_no_sorry_refuses_sorry_admit_and_axioms(tmp_path: Path) -> None:
    code = (
        "import Mathlib\n-- a sorry in a comment is fine\naxiom cheat : False\n"
        "theorem a : True := by sorry\ntheorem b : 1 = 1 := by admit\n"
    )
    assert lint(tmp_path, code)[0] == 0  # the policy alone lets them through
    status, payload, _ = lint(tmp_path, code, "--no-sorry")
    assert status == 1
    found = [(v["rule"], v["line"]) for v in payload["violations"]]
    assert found == [("axiom", 3), ("sorry", 4), ("sorry", 5)]
    assert lint(tmp_path, "theorem a : True := trivial\n", "--no-sorry")[0] == 0


def test_the_pre_commit_hook_refuses_sorry() -> None:
    hook = (SOURCE_ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "proofgate lint --no-sorry" in hook


def test_a_person_reads_1_based_columns_and_json_keeps_0_based_ones(tmp_path: Path) -> None:
    """The editor convention wherever a person reads a position, as `ci` prints it; Lean's raw
    0-based column in the JSON (issue 30, defect 5)."""
    code = "import Mathlib\n  #exit\n"
    _, payload, _ = lint(tmp_path, code)
    assert (payload["violations"][0]["line"], payload["violations"][0]["column"]) == (2, 2)
    result = runner.invoke(app, ["lint", str(tmp_path / "Sub.lean")])
    assert f"{tmp_path / 'Sub.lean'}:2:3: [exit]" in result.stdout
