"""`proofgate audit-statements` end to end on the stand-in stack (a 127.0.0.1 server: the simulated
REPL behind the real pool, the stand-in checker behind the real auditor), on the two-lineage
fixture in tests/triage/data/statement_audit/ (its README lists the planted cases): every planted
case is reported with its evidence and nothing else is; a stopped audit resumes. Real-Lean cases
at the end (`lean` marker) are skipped without a toolchain."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.cli import app
from tests.support.live_app import run_app
from tests.support.stack import make_stack

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "statement_audit"
INPUTS = [str(DATA / "minif2f_lineage.jsonl"), str(DATA / "putnam_lineage.jsonl")]
A, B = "minif2f_lineage", "putnam_lineage"

#: (class, statement, the other statement) of every planted case, and nothing else.
PLANTED = {
    ("does_not_elaborate", f"{A}/mathd_broken", None),
    ("disproved", f"{A}/mathd_false", None),
    ("vacuous", f"{A}/mathd_vacuous", None),
    ("trivial", f"{A}/mathd_trivial", None),
    ("auto_bound", f"{A}/mathd_auto", None),
    ("truncating_arith", f"{A}/mathd_trunc", None),
    ("duplicate_of", f"{A}/mathd_dup_b", f"{A}/mathd_dup_a"),
    ("differs_from", f"{B}/mathd_numbertheory_diff", f"{A}/mathd_numbertheory_diff"),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    stack = make_stack(tmp_path)
    try:
        with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
            yield url
    finally:
        structlog.reset_defaults()


def audit(server: str, out: Path) -> int:
    result = runner.invoke(
        app,
        [
            *("audit-statements", *INPUTS, "--server", server, "--out", str(out)),
            *("--closer", "decide", "--closer", "omega"),
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code


def findings(out: Path) -> dict[tuple[str, str, str | None], dict[str, object]]:
    report = json.loads((out / "report.json").read_text())
    return {(f["kind"], f["statement"], f.get("related")): f for f in report["findings"]}


@pytest.mark.timeout(240)
def test_every_planted_case_is_reported_with_its_evidence_and_nothing_else(
    server: str, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    assert audit(server, out) == 1  # findings
    report = json.loads((out / "report.json").read_text())
    found = findings(out)
    assert set(found) == PLANTED
    assert report["complete"] and report["counts"] == {kind: 1 for kind, _, _ in PLANTED}
    assert len(report["statements"]) == 18
    assert all(row["status"] == "audited" for row in report["statements"])

    def evidence(kind: str, name: str, other: str | None = None) -> dict[str, object]:
        return found[(kind, name, other)]["evidence"]  # type: ignore[return-value]

    broken = evidence("does_not_elaborate", f"{A}/mathd_broken")
    assert broken["messages"] == ["line 8:0: error: Unknown identifier `foo_bar`"]  # at the marker
    false = evidence("disproved", f"{A}/mathd_false")
    assert false["tactic"] == "decide"
    assert (
        "theorem proofgate_triage_disproof_1 : ¬ (type_of% @_root_.mathd_false) := by\n  decide"
        in (str(false["proof"]))
    )
    vacuous = evidence("vacuous", f"{A}/mathd_vacuous")
    assert vacuous["tactic"] == "intros; exfalso; omega"
    assert "(n : ℕ) (h₀ : n < 0) : n = 5 := by\n  intros\n  exfalso\n  omega" in str(
        vacuous["proof"]
    )
    trivial = evidence("trivial", f"{A}/mathd_trivial")
    assert trivial["tactic"] == "decide"
    assert "(a b : ℕ) : a + b = b + a := by\n  decide" in str(trivial["proof"])
    auto = evidence("auto_bound", f"{A}/mathd_auto")
    assert auto["names"] == ["x"]
    assert auto["type_with_auto_bound"] == "∀ {x : ℕ}, x + 1 = 2 → x = 1"
    assert auto["lean_errors_without_auto_bound"] == ["line 11:25: error: Unknown identifier `x`"]
    truncating = evidence("truncating_arith", f"{A}/mathd_trunc")
    assert truncating["operators"] == ["2:40 /"] and truncating["informal_signs"] == ["\\frac"]
    duplicate = evidence("duplicate_of", f"{A}/mathd_dup_b", f"{A}/mathd_dup_a")
    assert duplicate["type"] == "∀ (a b : ℕ), a = b → b = a"
    assert duplicate["other_type"] == "∀ (x y : ℕ), x = y → y = x"
    differs = evidence(
        "differs_from", f"{B}/mathd_numbertheory_diff", f"{A}/mathd_numbertheory_diff"
    )
    assert differs["type"] == "∀ (n : ℕ), n % 5 = 3 → 2 * n % 5 = 2"
    assert differs["other_type"] == "∀ (n : ℕ), n % 5 = 3 → 2 * n % 5 = 1"
    # without an informal text, truncating arithmetic is a note, not a finding
    notes = [(n["kind"], n["statement"]) for n in report["notes"]]
    assert notes == [("truncating_arith", f"{A}/mathd_sub")]
    # each statement is linked to its evidence, in both renderings for people
    markdown, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    anchor = "auto_bound-minif2f_lineage-mathd_auto"
    assert f'<a id="{anchor}"></a>' in markdown and f"[auto_bound](#{anchor})" in markdown
    assert f'<section id="{anchor}">' in page and f'<a href="#{anchor}">auto_bound</a>' in page
    assert "## differs_from (1)" in markdown and '<h2 id="vacuous">vacuous (1)</h2>' in page


@pytest.mark.timeout(240)
def test_a_stopped_audit_resumes_with_the_statements_still_missing(
    server: str, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    assert audit(server, out) == 1
    records = out / "records.jsonl"
    lines = records.read_text().splitlines(keepends=True)
    assert len(lines) == 18
    first = findings(out)
    # stopped mid-run: 7 records written, the 8th torn, one statement unfinished
    unfinished = json.loads(lines[0])
    unfinished.update(complete=False, unfinished="a type query did not finish")
    records.write_text(json.dumps(unfinished) + "\n" + "".join(lines[1:7]) + lines[7][:20])
    assert audit(server, out) == 1
    after = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(after) == 7 + 12  # the torn line cut, the 11 missing and the unfinished one redone
    assert [r["id"] for r in after[:7]] == [json.loads(line)["id"] for line in lines[:7]]
    assert findings(out) == first
    # nothing left to do: a third run writes nothing and reports the same
    assert audit(server, out) == 1
    assert len(records.read_text().splitlines()) == 19 and findings(out) == first


def test_an_unreadable_input_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit-statements", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2 and "cannot read the inputs" in result.output


def test_the_readme_command_runs_on_the_standin_stack(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"^proofgate audit-statements .*$", readme, flags=re.MULTILINE)
    command = command.replace("[--server URL]", f"--server {server}")
    command = re.sub(r" \[[^\]]*\]", "", command)  # the other optional parts
    shutil.copy(DATA / "minif2f_lineage.jsonl", tmp_path / "minif2f.jsonl")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "audit" / "report.json").read_text())
    assert report["complete"] and report["counts"]["vacuous"] == 1
    assert (tmp_path / "audit" / "report.html").is_file()


# --- real Lean (skipped without a toolchain) ---------------------------------------------------


def _real_inputs(tmp_path: Path) -> list[str]:
    """Known miniF2F-style statements, two lineages, no stand-in markers."""
    header = (
        "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\n"
        "open BigOperators Real Nat Topology Rat\n"
    )

    def row(name: str, theorem: str, informal: str | None = None) -> str:
        value = {"name": name, "formal_statement": f"{theorem} := by\n", "header": header}
        if informal is not None:
            value["informal_prefix"] = f"/-- {informal} -/\n"
        return json.dumps(value, ensure_ascii=False)

    first = [
        row("honest", "theorem honest (x : ℝ) (h₀ : 2 * x + 3 = 7) : x = 2", "Solve $2x+3=7$."),
        row("trivial", "theorem trivial' (a b : ℕ) : a + b = b + a"),
        row("false", "theorem false' : (2 : ℕ) + 2 = 5"),
        row("vacuous", "theorem vacuous (n : ℕ) (h₀ : n < 0) : n = 5"),
        row("auto", "theorem auto (h₀ : x + 1 = 2) : x = 1"),
        row("trunc", "theorem trunc (a : ℕ) (h₀ : a = 7 / 2) : 2 * a = 6", "Let $a=\\frac{7}{2}$."),
        row("dup_a", "theorem dup_a (x y : ℝ) (h₀ : x < y) : ¬ y < x"),
        row("dup_b", "theorem dup_b (a b : ℝ) (h₀ : a < b) : ¬ b < a"),
        row("broken", "theorem broken (x : ℝ) (h₀ : Real.not_a_function x = 1) : x = 1"),
        row("diff", "theorem diff (n : ℕ) (h₀ : n % 5 = 3) : 2 * n % 5 = 1"),
    ]
    second = [row("diff", "theorem diff (n : ℕ) (h₀ : n % 5 = 3) : 2 * n % 5 = 2")]
    paths = []
    for name, rows in (("a.jsonl", first), ("b.jsonl", second)):
        path = tmp_path / name
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.mark.lean
@pytest.mark.timeout(3600)
def test_real_lean_reports_the_classes_on_known_statements(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    result = runner.invoke(
        app, ["audit-statements", *_real_inputs(tmp_path), "--out", str(out), "--budget", "120"]
    )
    assert result.exit_code == 1, result.output
    kinds = {(kind, name) for kind, name, _ in findings(out)}
    for expected in (
        ("trivial", "a/trivial"),
        ("disproved", "a/false"),
        ("vacuous", "a/vacuous"),
        ("auto_bound", "a/auto"),
        ("truncating_arith", "a/trunc"),
        ("duplicate_of", "a/dup_b"),
        ("does_not_elaborate", "a/broken"),
        ("differs_from", "b/diff"),
    ):
        assert expected in kinds, (expected, sorted(kinds))
    assert not any(name == "a/honest" for _, name in kinds)
