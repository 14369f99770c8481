"""Helpers shared by the CLI commands."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from proofgate.config import Settings

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
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"PROOFGATE_{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        fail("invalid settings:\n  " + "\n  ".join(lines))
