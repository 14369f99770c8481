"""`proofgate batch`: options, exit codes and the summary, against real uvicorn and in-process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.batch.output import read_records
from proofgate.batch.runner import record_outcome
from proofgate.cli import app
from proofgate.cli import batch as batch_cli
from proofgate.exceptions import ConfigError
from tests.batch.items import write_batch
from tests.batch.test_runner import stack_in
from tests.support.live_app import run_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _logs_to_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs to the real stderr: the command's own setup would cache loggers on the runner's
    stream, which is closed after each invocation."""
    monkeypatch.setattr("proofgate.logs.configure_logging", lambda *args, **kwargs: None)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


def test_batch_on_a_server_writes_every_record_and_resumes(tmp_path: Path) -> None:
    expected = write_batch(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    stack = stack_in(tmp_path / "s")
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        args = ["batch", str(tmp_path / "in.jsonl"), "--out", str(out), "--server", url]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "written now" in first.output and "40" in first.output
        again = runner.invoke(app, [*args, "--quiet"])
    assert again.exit_code == 0, again.output
    assert "already done" in again.output
    assert {r.id: record_outcome(r) for r in read_records(out)} == expected


def test_batch_without_a_backend_that_can_verify_exits_3(tmp_path: Path) -> None:
    write_batch(tmp_path / "in.jsonl", 5)
    env = {"PROOFGATE_DATA_DIR": str(tmp_path / "d"), "PROOFGATE_ELAN_HOME": str(tmp_path / "e")}
    result = runner.invoke(
        app, ["batch", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl")], env=env
    )
    assert result.exit_code == 3, result.output
    assert "cannot verify" in result.output and "resume" in result.output


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--server", "http://127.0.0.1:9", "--ray"], "not both"),
        (["--actors", "2"], "--actors needs --ray"),
    ],
)
def test_conflicting_options_are_usage_errors(tmp_path: Path, extra: list[str], words: str) -> None:
    write_batch(tmp_path / "in.jsonl", 1)
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl"), "-o", "x.jsonl", *extra])
    assert result.exit_code == 2 and words in result.output


@pytest.mark.parametrize(
    ("given", "address"),
    [
        (["--ray"], "local"),
        (["--ray", "--quiet"], "local"),
        (["--ray", "auto"], "auto"),
        (["--ray=127.0.0.1:6379"], "127.0.0.1:6379"),
    ],
)
def test_ray_takes_an_optional_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: list[str], address: str
) -> None:
    seen: dict[str, object] = {}

    def capture(**options: object) -> None:
        seen.update(options)
        raise ConfigError("captured")

    monkeypatch.setattr(batch_cli, "make_executor", capture)
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl"), "-o", "o.jsonl", *given])
    assert result.exit_code == 2 and "captured" in result.output
    assert seen["ray"] == address


@pytest.mark.parametrize(
    ("listed", "single", "names", "refusal"),
    [
        (None, None, (), None),
        (" default , lean_v4_9_0 ", None, ("default", "lean_v4_9_0"), None),
        (None, "lean_v4_15_0", ("lean_v4_15_0",), None),
        ("default,,lean_v4_9_0", None, None, "names separated by commas"),
        ("a,b,a", None, None, "names a more than once"),
        ("a", "a", None, "not both"),
    ],
)
def test_the_environments_option(
    listed: str | None, single: str | None, names: tuple[str, ...] | None, refusal: str | None
) -> None:
    if refusal is None:
        assert batch_cli.parse_environments(listed, single) == names
    else:
        with pytest.raises(ConfigError, match=refusal):
            batch_cli.parse_environments(listed, single)
