"""`proofgate check`: exit codes, human and JSON output, against real uvicorn and in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from rich.console import Console
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.cli import app
from proofgate.cli.check import render_verdict
from proofgate.config import Settings
from proofgate.exceptions import LeanUnavailable, SubmissionError
from proofgate.models import Category, Message, Position, Severity, Verdict, VerdictStatus
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.server import free_port

runner = CliRunner()


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, FakeServiceWithPool]]:
    """The app in a thread of this process: its request logs must not land in the CLI's stdout."""
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    service = FakeServiceWithPool()
    try:
        with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
            yield url, service
    finally:
        structlog.reset_defaults()


def _file(tmp_path: Path, text: str, name: str = "Main.lean") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_proved_over_http_exits_0(server: tuple[str, FakeServiceWithPool], tmp_path: Path) -> None:
    url, service = server
    statement = _file(tmp_path, "theorem t : 1 = 1 := sorry", "Statement.lean")
    proof = _file(tmp_path, "by rfl", "proof.lean")
    result = runner.invoke(
        app, ["check", proof, "--statement", statement, "--proof", "--server", url]
    )
    assert result.exit_code == 0, result.output
    assert "proved" in result.stdout
    sent = service.seen[-1]
    assert (
        sent.statement == "theorem t : 1 = 1 := sorry"
        and sent.proof == "by rfl"
        and sent.code is None
    )


def test_json_output_is_the_verdict_model(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, service = server
    code = _file(tmp_path, "theorem a : True := trivial")
    result = runner.invoke(
        app,
        [
            "check",
            code,
            "--server",
            url,
            "--json",
            "--target",
            "a",
            "--environment",
            "default",
            "--timeout",
            "7",
        ],
    )
    assert result.exit_code == 0
    verdict = Verdict.model_validate_json(result.stdout)
    assert verdict.status is VerdictStatus.compiled
    assert service.seen[-1].target == "a" and service.seen[-1].timeout == 7


def test_rejected_exits_1_and_shows_the_violation(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, _ = server
    code = _file(tmp_path, "import Mathlib\n#exit\n")
    result = runner.invoke(app, ["check", code, "--server", url])
    assert result.exit_code == 1
    assert "rejected" in result.stdout
    assert "policy 2:1 [exit]" in result.stdout  # 1-based columns for a person


def test_failed_shows_the_feedback(server: tuple[str, FakeServiceWithPool], tmp_path: Path) -> None:
    url, _ = server
    code = _file(tmp_path, "theorem t : 1 = 1 := error")
    result = runner.invoke(app, ["check", code, "--server", url])
    assert result.exit_code == 1
    assert "failed" in result.stdout
    assert "-- ^ error: unknown identifier 'error'" in result.stdout  # the verdict's feedback
    assert "1:1 error [unknown_identifier]" in result.stdout


def test_timeout_verdict_is_infrastructure(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, _ = server
    result = runner.invoke(app, ["check", _file(tmp_path, "hang"), "--server", url, "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["status"] == "timeout"


def test_unready_server_exits_3_with_the_reason(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, service = server
    service.raises = LeanUnavailable("toolchain v4.32.0 not found: run `proofgate setup`")
    result = runner.invoke(app, ["check", _file(tmp_path, "x"), "--server", url, "--json"])
    assert result.exit_code == 3
    error = json.loads(result.stdout)
    assert error["error"] == "not_ready" and "proofgate setup" in error["message"]
    assert "proofgate setup" in result.stderr


def test_server_side_submission_error_is_usage(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, service = server
    service.raises = SubmissionError("unknown environment 'nope'", field="environment")
    result = runner.invoke(
        app, ["check", _file(tmp_path, "x"), "--server", url, "--environment", "nope"]
    )
    assert result.exit_code == 2
    assert "unknown environment" in result.stderr


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["check", _file(tmp_path, "x"), "--server", url])
    assert result.exit_code == 3
    assert "cannot reach proofgate" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--statement", "{stmt}", "--target", "t"], "not both"),
        (["--proof"], "--proof needs --statement"),
        (["--target", "has space"], "target"),
        (["--environment", "../x"], "environment"),
        (["--timeout", "0"], "timeout"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    statement = _file(tmp_path, "theorem t : True := sorry", "S.lean")
    code = _file(tmp_path, "theorem t : True := trivial")
    argv = [
        "check",
        code,
        *[a.replace("{stmt}", statement) for a in args],
        "--server",
        "http://127.0.0.1:9",
    ]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "Nope.lean")])
    assert result.exit_code == 2
    assert "cannot read file" in result.stderr


def test_stdin_is_read_for_dash(server: tuple[str, FakeServiceWithPool]) -> None:
    url, service = server
    result = runner.invoke(
        app, ["check", "-", "--server", url], input="theorem z : True := trivial\n"
    )
    assert result.exit_code == 0
    assert service.seen[-1].code == "theorem z : True := trivial\n"


def test_locally_without_lean_exits_3_naming_what_is_missing(tmp_path: Path) -> None:
    """The in-process service on this machine (no toolchain): infrastructure, with the reason."""
    code = _file(tmp_path, "theorem x : 1 = 1 := rfl")
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "check", code, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PROOFGATE_DATA_DIR": str(tmp_path / "data"),
            "PROOFGATE_ELAN_HOME": str(tmp_path / "elan"),
            "HOME": str(tmp_path),
        },
    )
    assert done.returncode == 3, done.stderr
    error = json.loads(done.stdout)
    assert error["error"] == "not_ready"
    assert "v4.32.0" in error["message"]


def test_locally_a_policy_refusal_needs_no_lean(tmp_path: Path) -> None:
    code = _file(tmp_path, "import Mathlib\n\n#eval IO.Process.exit 0\n")
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "check", code, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PROOFGATE_DATA_DIR": str(tmp_path / "data"),
            "PROOFGATE_ELAN_HOME": str(tmp_path / "elan"),
            "HOME": str(tmp_path),
        },
    )
    assert done.returncode == 1, done.stderr
    verdict = Verdict.model_validate_json(done.stdout)
    assert verdict.status is VerdictStatus.rejected and verdict.violations[0].line == 3


def test_the_real_cli_against_a_server(
    server: tuple[str, FakeServiceWithPool], tmp_path: Path
) -> None:
    url, _ = server
    code = _file(tmp_path, "import Mathlib\n#exit\n")
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "check", code, "--server", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "rejected" in done.stdout


def test_render_annotates_the_source_when_no_feedback_came() -> None:
    verdict = Verdict(
        status=VerdictStatus.failed,
        kind="compile",
        reason="Lean reported 1 error",
        messages=[
            Message(
                severity=Severity.error,
                category=Category.type_mismatch,
                text="type mismatch\n  h\nhas type ...",
                pos=Position(line=2, column=4),
                goals=["⊢ 1 = 1"],
            )
        ],
    )
    console = Console(record=True, width=120, color_system=None)
    render_verdict(verdict, console, source="theorem t : 1 = 1 := by\n    exact h [not markup]\n")
    text = console.export_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "exact h [not markup]" in line)
    assert "^ error [type_mismatch]: type mismatch" in lines[at + 1]
    assert lines[at + 1].index("^") == lines[at].index("exact")
    assert "goal: ⊢ 1 = 1" in text
