"""`proofgate triage`: one file (rich or --json) and JSONL batches with a summary, on a server
running the stand-in stack; in-process without a backend (policy refusal, not ready)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.cli import app
from proofgate.models import TriageResult
from tests.support.live_app import run_app
from tests.support.stack import make_stack

runner = CliRunner()
FAIL_OTHERS = "-- standin: with proofgate_triage without {needle} error closer failed"


def statement(theorem: str, *needles: str) -> str:
    markers = "".join(FAIL_OTHERS.format(needle=n) + "\n" for n in needles)
    return f"import Mathlib\n\n{markers}{theorem} := by sorry\n"


FALSE = statement("theorem g : (2 : ℕ) + 2 = 5", "proofgate_triage_disproof", "decide")
VACUOUS = statement("theorem f (n : ℕ) (h : n < 0) : n = 5", "proofgate_triage_vacuous", "omega")
TRIVIAL = statement("theorem k (a b : ℕ) : a + b = b + a", "proofgate_triage_trivial", "omega")
CLEAN = statement("theorem c (n : ℕ) : n + 0 = n", "nothing_closes")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    stack = make_stack(tmp_path)
    try:
        with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
            yield url
    finally:
        structlog.reset_defaults()


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_one_statement_shown_for_a_person(server: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "F.lean", VACUOUS)
    result = runner.invoke(app, ["triage", path, "--server", server, "--closer", "omega"])
    assert result.exit_code == 1, result.output
    assert (
        "vacuous" in result.stdout and "VACUOUS: its hypotheses alone prove False" in result.stdout
    )
    assert "intros; exfalso; omega" in result.stdout and "closed" in result.stdout


def test_json_output_and_exit_0_without_a_flag(server: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "C.lean", CLEAN)
    result = runner.invoke(app, ["triage", path, "--server", server, "--json", "--budget", "5"])
    assert result.exit_code == 0, result.output
    triaged = TriageResult.model_validate_json(result.stdout)
    assert triaged.elaboration == "ok" and not triaged.flags and triaged.budget == 5
    assert triaged.target == "c" and triaged.probes


def test_batch_writes_results_and_counts_false_vacuous_trivial(server: str, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "false", "statement": FALSE}),
        json.dumps({"name": "vacuous", "formal_statement": VACUOUS, "informal": "ignored"}),
        json.dumps({"id": 3, "statement": TRIVIAL, "closers": ["omega"]}),
        json.dumps({"id": "clean", "statement": CLEAN}),
        "",
        "{not json",
        json.dumps({"id": "bad closer", "statement": CLEAN, "closers": ["rfl"]}),
    ]
    source = _file(tmp_path, "in.jsonl", "\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["triage", source, "--out", str(out), "--server", server, "--json", "--budget", "5"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["statements"] == 6 and summary["errors"] == 2
    assert (summary["false"], summary["vacuous"], summary["trivial"], summary["clean"]) == (
        1,
        1,
        1,
        1,
    )
    assert summary["elaboration_ok"] == 4
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["false", "vacuous", 3, "clean", None, "bad closer"]
    assert [row["line"] for row in rows] == [1, 2, 3, 4, 6, 7]
    assert rows[0]["result"]["disproved"] and rows[0]["result"]["budget"] == 5
    assert rows[2]["result"]["closers"] == ["omega"]  # a line's own fields beat the options
    assert rows[4]["error"]["kind"] == "submission" and "not JSON" in rows[4]["error"]["message"]
    assert rows[5]["error"]["kind"] == "submission" and "closers" in rows[5]["error"]["message"]


def test_batch_summary_for_a_person(server: str, tmp_path: Path) -> None:
    source = _file(tmp_path, "in.jsonl", json.dumps({"statement": CLEAN}) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["triage", source, "--out", str(out), "--server", server])
    assert result.exit_code == 0, result.output
    assert "clean" in result.stdout and "statements" in result.stdout
    assert len(out.read_text().splitlines()) == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    batch = _file(tmp_path, "in.jsonl", "{}\n")
    assert runner.invoke(app, ["triage", batch]).exit_code == 2  # no --out
    missing = runner.invoke(app, ["triage", str(tmp_path / "missing.lean"), "--json"])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"] == "usage"
    # One reader with `proofgate check`: the message names what could not be read.
    assert json.loads(missing.stdout)["message"].startswith("cannot read statement ")


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """In-process runs point the service's logs at CliRunner's stderr, closed after the run."""
    yield
    structlog.reset_defaults()


def test_in_process_policy_refusal_needs_no_lean(tmp_path: Path, fresh_logging: None) -> None:
    refused = _file(tmp_path, "R.lean", "#eval 1\n" + CLEAN)
    result = runner.invoke(app, ["triage", refused, "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["elaboration"] == "rejected"


def test_in_process_without_lean_is_not_ready(tmp_path: Path, fresh_logging: None) -> None:
    result = runner.invoke(app, ["triage", _file(tmp_path, "C.lean", CLEAN), "--json"])
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["error"] == "not_ready"
