"""The CLI's shared error reporting: one message form, one mapping of errors to exit codes."""

from __future__ import annotations

import json

import pytest
import typer

from proofgate.cli.common import EXIT_INFRA, EXIT_USAGE, error_kind, fail, stop
from proofgate.exceptions import (
    Busy,
    ClientError,
    ConfigError,
    NotReady,
    ProofgateError,
    ServerError,
    SubmissionError,
)


def test_fail_prints_the_message_as_written_never_as_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `fail` once read its message as rich markup, so "[mcp]" vanished from the install hint.
    with pytest.raises(typer.Exit) as exited:
        fail("pip install 'proofgate[mcp]' ([red]x[/red])", EXIT_INFRA)
    assert exited.value.exit_code == EXIT_INFRA
    assert "error: pip install 'proofgate[mcp]' ([red]x[/red])" in capsys.readouterr().err


def test_stop_with_json_also_says_what_went_wrong_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited:
        stop("no such file", EXIT_USAGE, as_json=True, kind="usage")
    assert exited.value.exit_code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": "usage", "message": "no such file"}
    assert "error: no such file" in err


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SubmissionError("bad"), ("submission", EXIT_USAGE)),
        (ConfigError("bad"), ("submission", EXIT_USAGE)),
        (NotReady("later"), ("not_ready", EXIT_INFRA)),
        (Busy("later"), ("busy", EXIT_INFRA)),
        (ClientError("no", status_code=400), ("refused", EXIT_USAGE)),
        (ClientError("slow down", status_code=429), ("refused", EXIT_INFRA)),
        (ServerError("down", status_code=503), ("infrastructure", EXIT_INFRA)),
        (ProofgateError("other"), ("infrastructure", EXIT_INFRA)),
    ],
)
def test_each_error_has_one_kind_and_exit_code(
    exc: ProofgateError, expected: tuple[str, int]
) -> None:
    assert error_kind(exc) == expected
