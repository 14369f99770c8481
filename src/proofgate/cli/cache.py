"""`proofgate cache stats` and `proofgate cache purge`: the SQLite result cache."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.cli.common import ExitCode, JsonOption, console, fail, load_settings
from proofgate.exceptions import StoreError
from proofgate.store.results import CacheStats, ResultCache

__all__ = ["cache_app", "register"]

cache_app = typer.Typer(
    help="The result cache (DATA_DIR/cache.sqlite3): stored verdicts by submission and pins.",
    no_args_is_help=True,
)


def _cache() -> ResultCache:
    # Always the file itself: a cache disabled for lookups can still be inspected and purged.
    settings = load_settings()
    return ResultCache(settings.cache_path, enabled=True)


@cache_app.command()
def stats(as_json: JsonOption = False) -> None:
    """How many verdicts are stored, by status, and how large the file is."""
    settings = load_settings()
    try:
        found: CacheStats = asyncio.run(_cache().stats())
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    report = found.to_json()
    report["enabled"] = settings.cache_enabled
    del report["hits"], report["misses"]  # per-process counters: meaningless for a fresh CLI
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title="proofgate result cache", show_header=False)
    table.add_row("path", escape(str(found.path)))
    table.add_row("enabled", "yes" if settings.cache_enabled else "no (PROOFGATE_CACHE_ENABLED)")
    table.add_row("verdicts", str(found.entries))
    for status, count in found.by_status.items():
        table.add_row(f"  {status}", str(count))
    table.add_row("size", f"{found.size_bytes / 1024:.1f} KiB")
    console.print(table)


@cache_app.command()
def purge() -> None:
    """Delete every stored verdict (a server keeps running; it refills as it checks)."""
    cache = _cache()
    try:
        removed = asyncio.run(cache.purge())
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    console.print(
        f"removed {removed} cached verdict{'s' if removed != 1 else ''} from {escape(str(cache.path))}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
