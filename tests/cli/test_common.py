"""The CLI's shared error reporting: one message form, one mapping of errors to exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from proofgate.cli.common import ExitCode, error_kind, fail, read_input, stop
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
        fail("pip install 'proofgate[mcp]' ([red]x[/red])", ExitCode.infra)
    assert exited.value.exit_code == ExitCode.infra
    assert "error: pip install 'proofgate[mcp]' ([red]x[/red])" in capsys.readouterr().err


def test_stop_with_json_also_says_what_went_wrong_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited:
        stop("no such file", ExitCode.usage, as_json=True, kind="usage")
    assert exited.value.exit_code == ExitCode.usage
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": "usage", "message": "no such file"}
    assert "error: no such file" in err


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SubmissionError("bad"), ("submission", ExitCode.usage)),
        (ConfigError("bad"), ("submission", ExitCode.usage)),
        (NotReady("later"), ("not_ready", ExitCode.infra)),
        (Busy("later"), ("busy", ExitCode.infra)),
        (ClientError("no", status_code=400), ("refused", ExitCode.usage)),
        (ClientError("slow down", status_code=429), ("refused", ExitCode.infra)),
        (ServerError("down", status_code=503), ("infrastructure", ExitCode.infra)),
        (ProofgateError("other"), ("infrastructure", ExitCode.infra)),
    ],
)
def test_each_error_has_one_kind_and_exit_code(
    exc: ProofgateError, expected: tuple[str, ExitCode]
) -> None:
    assert error_kind(exc) == expected


def _options(flag: str) -> dict[str, Any]:
    """Each top-level command's option `flag` (a click parameter), by command name."""
    from proofgate.cli import app

    group = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for parameter in command.params:
            if flag in getattr(parameter, "opts", ()):
                found[name] = parameter
    return found


def _server_options() -> dict[str, tuple[str, object]]:
    """Each command's `--server` option: (its parameter's envvar, its help)."""
    return {name: (option.envvar, option.help) for name, option in _options("--server").items()}


def test_every_command_that_runs_on_a_server_reads_proofgate_server_the_same_way() -> None:
    found = _server_options()
    # Only an explicit --server for `batch` (its --server and --ray exclude each other, so a server
    # in the environment would make every `--ray` run a usage error) and `ci` (the GitHub action
    # decides from its own `server` input whether to install Lean for a local check).
    explicit = {"batch", "ci"}
    on_a_server = {"audit-statements", "check", "extract", "mcp", "replay", "triage"}
    assert set(found) == on_a_server | explicit
    shared = {option for name, option in found.items() if name not in explicit}
    assert len(shared) == 1
    assert next(iter(shared))[0] == "PROOFGATE_SERVER"
    assert all(found[name][0] is None for name in explicit)


def test_the_commands_that_take_an_environment_or_a_triage_budget_share_one_option_each() -> None:
    """One definition each (cli.common): the same flag, help and default wherever it is taken.
    `extract --environment` is another option: unset, each item keeps its own environment."""
    environments = _options("--environment")
    shared = {"audit-statements", "check", "lint", "setup", "triage"}
    assert shared | {"extract"} <= set(environments)
    assert {(o.help, o.default, o.multiple) for n, o in environments.items() if n in shared} == {
        ("The pinned environment (its Lean, Mathlib and packages).", "default", False)
    }
    assert environments["extract"].default is None
    for flag in ("--closer", "--budget"):
        found = _options(flag)
        assert {"audit-statements", "triage"} <= set(found)
        assert len({(o.help, o.multiple, o.min) for o in found.values()}) == 1


def test_exit_codes_keep_the_numbers_scripts_rely_on() -> None:
    # the numbers are a public contract (documented in each command's docstring): never renumber
    assert {code.name: int(code) for code in ExitCode} == {
        "ok": 0,
        "failed": 1,
        "usage": 2,
        "infra": 3,
        "interrupted": 130,
    }


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("Missing.lean", None, "it does not exist"),
        ("Dir.lean", "directory", "it is a directory: give a .lean file"),
        ("Latin1.lean", b"caf\xe9", "'utf-8' codec can't decode byte 0xe9"),
    ],
)
def test_one_reader_says_why_a_file_cannot_be_read(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    why: str,
) -> None:
    # check, triage and lint read their FILE with it (lint had a reader of its own, whose
    # "does not exist" and "is a directory" wording the shared one now gives to all three)
    path = tmp_path / name
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(typer.Exit) as exited:
        read_input(path, "file", as_json=False)
    assert exited.value.exit_code == ExitCode.usage

    def squeezed(text: str) -> str:  # rich wraps and folds long lines: compare without spaces
        return "".join(text.split())

    assert squeezed(f"error: cannot read file {path}: {why}") in squeezed(capsys.readouterr().err)
