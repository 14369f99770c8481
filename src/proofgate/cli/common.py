"""Helpers shared by the CLI commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
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


console = Console(stderr=True, highlight=False)

#: `--server URL`, or PROOFGATE_SERVER: the command runs on that server; without it, in-process.
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PROOFGATE_SERVER",
        help="Run on this proofgate server (URL) instead of in-process.",
    ),
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
    with `settings` (from the environment when not given), whose service logs warnings and up to
    stderr unless PROOFGATE_LOG_LEVEL asks for more (stdout is the command's own output)."""
    from proofgate.backends import open_backend
    from proofgate.logs import configure_logging

    if not server:
        settings = settings or load_settings()
        level = "warning" if settings.log_level == "info" else settings.log_level
        configure_logging(level, json=settings.log_json)
    api_key = os.environ.get("PROOFGATE_API_KEY") or None
    async with open_backend(settings or Settings(), server=server, api_key=api_key) as backend:
        yield backend
