"""Helpers shared by the CLI commands."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from proofgate.config import Settings

if TYPE_CHECKING:
    from proofgate.backends import Backend

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3

console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


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
