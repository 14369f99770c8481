"""Helpers shared by the CLI commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console, ConsoleDimensions
from rich.text import Text

from proofgate.config import Settings
from proofgate.exceptions import Busy, ClientError, ConfigError, NotReady, SubmissionError

if TYPE_CHECKING:
    from proofgate.backends import Backend


class ExitCode(IntEnum):
    """What a command's exit status says; each command's docstring says which it uses and when."""

    ok = 0
    failed = 1  # the input did not pass: a verdict short of proved, a triage flag, a lint finding
    usage = 2  # bad options, unreadable input, a malformed submission
    infra = 3  # proofgate could not do it: not ready, busy, unreachable server, unfinished run
    interrupted = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it)


#: Columns off a terminal: a line as long as its text (a panel is as wide as its widest line).
OFF_TERMINAL_WIDTH = 1000


class CliConsole(Console):
    """Rich's console, except that off a terminal (a pipe, a file, a CI log) it does not cut lines
    at 80 columns, Rich's guess there: COLUMNS still sets a width."""

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]  # the overridden property
        columns = self._environ.get("COLUMNS") or ""
        if self._width is None and not self.is_terminal and not columns.isdigit():
            return ConsoleDimensions(OFF_TERMINAL_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]  # the overridden property


console = CliConsole(stderr=True, highlight=False)

#: How many `-v` the command line gave: 0 quiet (errors only), 1 info, 2 or more debug.
_verbosity = 0


def set_verbosity(count: int) -> None:
    """Record `proofgate -v`'s count and log at that level from now on (before settings are read)."""
    global _verbosity
    _verbosity = count
    configure_cli_logging()


def configure_cli_logging(settings: Settings | None = None) -> None:
    """The CLI logs for people: plain `level: event` lines on stderr (stdout is the command's own
    output), errors only unless `-v` (info) or `-vv` (debug). A PROOFGATE_LOG_LEVEL or
    PROOFGATE_LOG_JSON set in the environment is honoured; `-v` still asks for more."""
    from proofgate.logs import configure_logging

    levels = ["error", "info", "debug"]
    level = levels[min(_verbosity, 2)]
    as_json = False
    if settings is not None:
        if "log_level" in settings.model_fields_set:
            wanted = settings.log_level
            level = min(level, wanted, key=["debug", "info", "warning", "error"].index)
        if "log_json" in settings.model_fields_set:
            as_json = settings.log_json
    configure_logging(level, json=as_json)


#: `--server URL`, or PROOFGATE_SERVER: the command runs on that server; without it, in-process.
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PROOFGATE_SERVER",
        help="Run on this proofgate server (URL) instead of in-process.",
    ),
]

#: `--environment NAME`: the pinned environment a command works in (`GET /v1/environments` and
#: `proofgate doctor` list them); every such command defaults to `default`.
EnvironmentOption = Annotated[
    str,
    typer.Option("--environment", help="The pinned environment (its Lean, Mathlib and packages)."),
]

#: `--closer TACTIC`, repeatable: a triage tries only these of its configured closers.
ClosersOption = Annotated[
    list[str] | None,
    typer.Option("--closer", help="Try only this configured closer (repeat for several)."),
]

#: `--json`: print the command's outcome as JSON instead of a table.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: `--budget SECONDS`: the time a triage gives one statement's probes, all together.
BudgetOption = Annotated[
    float | None,
    typer.Option("--budget", min=0.001, help="Seconds for one statement's probes together."),
]


def fail(message: str, code: ExitCode = ExitCode.usage) -> NoReturn:
    """Say what went wrong on stderr (the message as written, never read as markup) and exit."""
    console.print(Text("error: ", style="red") + Text(message))
    raise typer.Exit(code)


def stop(message: str, code: ExitCode, *, as_json: bool, kind: str) -> NoReturn:
    """`fail`, and with --json also a JSON object on stdout that says what went wrong."""
    if as_json:
        typer.echo(json.dumps({"error": kind, "message": message}))
    fail(message, code)


def error_kind(exc: BaseException) -> tuple[str, ExitCode]:
    """(kind, exit code) of an error that stopped a check or a triage."""
    if isinstance(exc, (SubmissionError, ConfigError)):
        return "submission", ExitCode.usage
    if isinstance(exc, NotReady):
        return "not_ready", ExitCode.infra
    if isinstance(exc, Busy):
        return "busy", ExitCode.infra
    if isinstance(exc, ClientError):
        return "refused", ExitCode.infra if exc.status_code == 429 else ExitCode.usage
    return "infrastructure", ExitCode.infra


def stop_for(exc: BaseException, *, as_json: bool) -> NoReturn:
    """`stop` with the kind and exit code `error_kind` gives `exc`."""
    kind, code = error_kind(exc)
    stop(str(exc), code, as_json=as_json, kind=kind)


def show_result(
    *, as_json: bool, json_text: str, render: Callable[[Console], None], code: ExitCode
) -> NoReturn:
    """End a command with its result on stdout: `json_text` with --json, else `render` on a console
    for a person (long lines left whole, for copying); then exit with `code`."""
    if as_json:
        typer.echo(json_text)
    else:
        render(CliConsole(highlight=False, soft_wrap=True))
    raise typer.Exit(code)


def read_input(path: Path, what: str, *, as_json: bool) -> str:
    """The text of `path` (`-`: stdin); an unreadable one stops the command with a usage error."""
    try:
        if str(path) == "-":
            return sys.stdin.read()
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        why = "it does not exist"
    except IsADirectoryError:
        why = "it is a directory: give a .lean file"
    except (OSError, UnicodeDecodeError) as exc:
        why = str(exc)
    stop(f"cannot read {what} {path}: {why}", ExitCode.usage, as_json=as_json, kind="usage")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment plus CLI overrides; bad values name the variable."""
    # Any: Settings validates each value itself, and a bad one is reported below by name.
    given: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"PROOFGATE_{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        fail("invalid settings:\n  " + "\n  ".join(lines))


@asynccontextmanager
async def command_backend(
    server: str | None, settings: Settings | None = None
) -> AsyncIterator[Backend]:
    """Where a command checks: on `server` (the API key from PROOFGATE_API_KEY), or in this process
    with `settings` (from the environment when not given), whose service logs to
    stderr as `configure_cli_logging` says (stdout is the command's own output)."""
    from proofgate.backends import open_backend

    if not server:
        settings = settings or load_settings()
        configure_cli_logging(settings)
    api_key = os.environ.get("PROOFGATE_API_KEY") or None
    async with open_backend(settings or Settings(), server=server, api_key=api_key) as backend:
        yield backend
