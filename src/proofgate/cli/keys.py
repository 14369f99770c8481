"""`proofgate keys create|list|revoke`: API keys in PROOFGATE_API_KEYS_FILE (hashed).

`create` prints the token once, alone on stdout (so `TOKEN=$(proofgate keys create ci)` works); a
running server picks up new and revoked keys at its next request.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.cli.common import CliConsole, ExitCode, JsonOption, console, fail, load_settings
from proofgate.exceptions import ConfigError, StoreError
from proofgate.store.keys import KeyStore, parse_rate

__all__ = ["keys_app", "register"]

keys_app = typer.Typer(
    help="API keys for the HTTP service (stored hashed in PROOFGATE_API_KEYS_FILE).",
    no_args_is_help=True,
)


def _store() -> KeyStore:
    settings = load_settings()
    assert settings.api_keys_file is not None  # derived from the data dir when unset
    return KeyStore(settings.api_keys_file)


def _when(seconds: float | None) -> str:
    return "" if seconds is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


@keys_app.command()
def create(
    name: Annotated[str, typer.Argument(help="A name for the key (who or what uses it).")],
    rate: Annotated[
        str | None, typer.Option(help="Submissions a minute, e.g. `60/min`, `2/s`, `600/h`.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Requests (and batch items) at once.")
    ] = None,
) -> None:
    """Create a key and print its token once (only its hash is kept)."""
    store = _store()
    try:
        per_minute = parse_rate(rate) if rate is not None else None
        key, token = store.create(name, rate_per_minute=per_minute, concurrency=concurrency)
    except ConfigError as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    limits = []
    if key.rate_per_minute is not None:
        limits.append(f"{key.rate_per_minute:g}/min")
    if key.concurrency is not None:
        limits.append(f"{key.concurrency} at once")
    console.print(
        f"created API key [bold]{escape(key.name)}[/bold]"
        + (f" ({', '.join(limits)})" if limits else "")
        + f" in {escape(str(store.path))}; the token below is shown only now: send it as "
        "`Authorization: Bearer TOKEN` (or PROOFGATE_API_KEY for the CLI)"
    )
    typer.echo(token)


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """Every key: name, token prefix, limits, created and revoked times (never the token)."""
    store = _store()
    try:
        keys = store.keys()
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    if as_json:
        shown = [{k: v for k, v in key.to_json().items() if k != "token_sha256"} for key in keys]
        typer.echo(json.dumps(shown, indent=2))
        return
    if not keys:
        console.print(
            f"no API keys in {escape(str(store.path))}: create one with `proofgate keys create NAME`"
        )
        return
    table = Table(title=f"API keys ({escape(str(store.path))})")
    for column in ("name", "prefix", "status", "rate", "concurrency", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            escape(key.name),
            key.prefix + "…",
            "active" if key.active else "[red]revoked[/red]",
            f"{key.rate_per_minute:g}/min" if key.rate_per_minute is not None else "-",
            str(key.concurrency) if key.concurrency is not None else "-",
            _when(key.created_at),
            _when(key.revoked_at),
        )
    CliConsole(highlight=False).print(table)  # stdout: the listing is the command's output


@keys_app.command()
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: its token is answered 403 from the server's next request on."""
    store = _store()
    try:
        key = store.revoke(name)
    except ConfigError as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    console.print(f"revoked API key [bold]{escape(key.name)}[/bold] ({escape(key.prefix)}…)")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
