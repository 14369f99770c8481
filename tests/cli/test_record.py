"""`proofgate export` and `proofgate replay` end to end: a batch item exported as a signed report,
replayed on a real server (reproduced, exit 0), then tampered with (detected, exit 1)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.batch.executors.checker import CheckerExecutor
from proofgate.batch.runner import run_batch
from proofgate.cli import app
from tests.batch.items import write_batch
from tests.support.live_app import run_app
from tests.support.stack import make_stack

runner = CliRunner()


@pytest.fixture(autouse=True)
def _logs_to_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs to the real stderr (the runner's stream is closed after each invocation)."""
    monkeypatch.setattr("proofgate.logs.configure_logging", lambda *args, **kwargs: None)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's settings: its own data directory, so its own report key."""
    return {"PROOFGATE_DATA_DIR": str(tmp_path / "cli"), "PROOFGATE_ELAN_HOME": str(tmp_path / "e")}


def test_export_then_replay_on_a_server(tmp_path: Path, env: dict[str, str]) -> None:
    write_batch(tmp_path / "in.jsonl", 12)
    stack = make_stack(tmp_path)
    batch = run_batch(
        tmp_path / "in.jsonl", tmp_path / "out.jsonl", CheckerExecutor(service=stack.service())
    )
    asyncio.run(batch)  # the CLI runs its own event loop: this test has none
    exported = runner.invoke(
        app,
        [
            "export",
            str(tmp_path / "out.jsonl"),
            "--submission",
            str(tmp_path / "in.jsonl"),
            "--id",
            "item-0002",
            "--out",
            str(tmp_path / "report.json"),
        ],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    record = json.loads((tmp_path / "report.json").read_text())
    assert record["item_id"] == "item-0002" and record["verdict"]["status"] == "failed"
    assert (tmp_path / "report.md").exists()

    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        for name in ("report.json", "report.md"):
            result = runner.invoke(app, ["replay", str(tmp_path / name), "--server", url], env=env)
            assert result.exit_code == 0, result.output
            assert "reproduced: failed" in result.output and "signature: valid" in result.output

        record["submission"]["code"] = record["submission"]["code"].replace("foo2", "bar")
        (tmp_path / "edited.json").write_text(json.dumps(record))
        tampered = runner.invoke(
            app, ["replay", str(tmp_path / "edited.json"), "--server", url, "--json"], env=env
        )
    assert tampered.exit_code == 1, tampered.output
    outcome = json.loads(tampered.stdout)
    assert outcome["reproduced"] is False and outcome["signature"] == "invalid"
    assert outcome["reasons"][0].startswith("signature invalid")


def test_export_refuses_a_verdict_of_another_submission(
    tmp_path: Path, env: dict[str, str]
) -> None:
    verdict = {
        "status": "failed",
        "kind": "compile",
        "content_hash": "0" * 64,
        "pins": {
            "lean": "v4.32.0",
            "mathlib": "m",
            "repl": "r",
            "proofgate": "0.1.0",
            "checker": "c",
        },
    }
    (tmp_path / "verdict.json").write_text(json.dumps(verdict))
    (tmp_path / "submission.json").write_text(json.dumps({"code": "theorem x : True := trivial"}))
    result = runner.invoke(
        app,
        [
            "export",
            str(tmp_path / "verdict.json"),
            "--submission",
            str(tmp_path / "submission.json"),
        ],
        env=env,
    )
    assert result.exit_code == 2 and "not computed for this submission" in result.output


def test_export_prints_json_or_markdown_without_out(tmp_path: Path, env: dict[str, str]) -> None:
    submission = {"code": "theorem x : True := trivial"}
    from proofgate.models import Submission

    verdict = {
        "status": "compiled",
        "kind": "compile",
        "content_hash": Submission(**submission).content_hash(),
        "pins": {
            "lean": "v4.32.0",
            "mathlib": "m",
            "repl": "r",
            "proofgate": "0.1.0",
            "checker": "c",
        },
    }
    (tmp_path / "verdict.json").write_text(json.dumps(verdict))
    (tmp_path / "submission.json").write_text(json.dumps(submission))
    args = [
        "export",
        str(tmp_path / "verdict.json"),
        "--submission",
        str(tmp_path / "submission.json"),
    ]
    as_json = runner.invoke(app, args, env=env)
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["verdict"]["status"] == "compiled"
    as_markdown = runner.invoke(app, [*args, "--markdown"], env=env)
    assert as_markdown.stdout.startswith("# proofgate reproducible report")


@pytest.mark.parametrize("written", ["[1, 2]", '{"status": "proved"}\n{"status": "failed"}\n'])
def test_export_of_a_verdict_that_is_not_one_json_object_says_to_give_id(
    tmp_path: Path, env: dict[str, str], written: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An array and a JSONL file alike: exit 2, the file named, and the hint (--id) both times."""
    (tmp_path / "verdict.json").write_text(written)
    (tmp_path / "submission.json").write_text(json.dumps({"code": "theorem x : True := trivial"}))
    # Relative names: the CLI's console may be 80 columns wide (COLUMNS at import), and Rich
    # breaks a word longer than a line (a temporary path) inside itself.
    monkeypatch.chdir(tmp_path)
    args = ["export", "verdict.json", "--submission", "submission.json"]
    result = runner.invoke(app, args, env=env)
    output = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "the verdict verdict.json: not a JSON object" in output
    assert output.rstrip().endswith("for a JSONL file give --id")


def test_replay_of_a_missing_report_is_a_usage_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.json")], env=env)
    assert result.exit_code == 2 and "cannot read the report" in result.output


def test_replay_in_process_without_lean_exits_3(tmp_path: Path, env: dict[str, str]) -> None:
    write_batch(tmp_path / "in.jsonl", 3)
    stack = make_stack(tmp_path)
    batch = run_batch(
        tmp_path / "in.jsonl", tmp_path / "out.jsonl", CheckerExecutor(service=stack.service())
    )
    asyncio.run(batch)
    args = ["export", str(tmp_path / "out.jsonl"), "--submission", str(tmp_path / "in.jsonl")]
    exported = runner.invoke(
        app, [*args, "--id", "item-0000", "-o", str(tmp_path / "r.json")], env=env
    )
    assert exported.exit_code == 0, exported.output
    result = runner.invoke(app, ["replay", str(tmp_path / "r.json")], env=env)
    assert result.exit_code == 3, result.output
    assert "could not be checked again" in result.output and "proofgate setup" in result.output
