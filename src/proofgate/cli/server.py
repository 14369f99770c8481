"""`proofgate serve`, `doctor`, `setup`, `version`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.__about__ import __version__
from proofgate.cli.common import (
    EnvironmentOption,
    ExitCode,
    JsonOption,
    console,
    fail,
    load_settings,
)
from proofgate.config import Settings, is_loopback_host
from proofgate.exceptions import ConfigError, SetupError, StoreError


def check_binding(settings: Settings) -> None:
    """No API keys configured: loopback only, unless unauthenticated use is explicitly allowed."""
    if is_loopback_host(settings.host) or settings.allow_unauthenticated:
        return
    from proofgate.store.keys import KeyStore

    keys = settings.api_keys_file
    try:
        if keys is not None and KeyStore(keys).active_keys():
            return
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc
    raise ConfigError(
        f"refusing to listen on {settings.host} without API keys: create one with "
        "`proofgate keys create NAME`, or set PROOFGATE_ALLOW_UNAUTHENTICATED=true"
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (PROOFGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PROOFGATE_PORT).")] = None,
) -> None:
    """Run the HTTP service (uvicorn): one a data directory, a second exits naming the first's pid."""

    from proofgate.api.app import create_app
    from proofgate.api.server import Server, uvicorn_config
    from proofgate.logs import configure_logging, get_logger, stdlib_logging_config
    from proofgate.store.lock import DataDirLock

    settings = load_settings(host=host, port=port)
    try:
        check_binding(settings)
    except ConfigError as exc:
        fail(str(exc))
    # Two servers on one directory would both resume its jobs: the second refuses to start.
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except StoreError as exc:
        fail(str(exc), ExitCode.infra)
    with lock:  # held until the server has stopped
        configure_logging(settings.log_level, json=settings.log_json)
        get_logger(__name__).info(
            "proofgate_serving",
            version=__version__,
            url=f"http://{settings.host}:{settings.port}",
            docs="/docs",
        )
        config = uvicorn_config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            # uvicorn's error and access lines in the server's format (JSON unless asked otherwise)
            log_config=stdlib_logging_config(settings.log_level, json=settings.log_json),
            access_log=True,  # a line a request at info (PROOFGATE_LOG_LEVEL=warning: none)
            # Open NDJSON streams would otherwise hold shutdown until their job ends; jobs resume.
            timeout_graceful_shutdown=10,
        )
        Server(config).run()


def doctor(as_json: JsonOption = False) -> None:
    """Show what verification needs and what is missing; exit 0 only when ready."""
    from proofgate.environments.doctor import run_doctor

    report = run_doctor(load_settings())
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        table = Table(title="proofgate doctor")
        for column in ("check", "ok", "detail"):
            table.add_column(column)
        for check in report.checks:
            mark = (
                "[green]yes[/green]"
                if check.ok
                else ("[red]NO[/red]" if check.required else "[yellow]no[/yellow]")
            )
            table.add_row(escape(check.name), mark, escape(check.detail))
        console.print(table)
        if report.ready:
            console.print("[green]ready to verify[/green]")
        else:
            console.print("[red]not ready:[/red] " + escape("; ".join(report.problems)))
    raise typer.Exit(ExitCode.ok if report.ready else ExitCode.infra)


def setup(
    environment: EnvironmentOption = "default",
    every: Annotated[
        bool, typer.Option("--all", help="Set up every environment (LeanProjects/ too).")
    ] = False,
) -> None:
    """Install elan, the pinned toolchain, the Mathlib cache and the REPL (idempotent)."""
    from proofgate.environments.setup import run_setup, run_setup_all

    settings = load_settings()
    if every and environment != "default":
        fail("--all sets up every environment: leave out --environment", ExitCode.usage)

    def progress(line: str) -> None:
        console.print(escape(line))

    try:
        if every:
            run_setup_all(settings, progress=progress)
        else:
            run_setup(settings, environment=environment, progress=progress)
    except (SetupError, ConfigError) as exc:
        fail(str(exc), ExitCode.infra)
    console.print("[green]setup complete[/green]")


def version() -> None:
    """Print proofgate's version."""
    typer.echo(__version__)


def register(app: typer.Typer) -> None:
    for command in (serve, doctor, setup, version):
        app.command()(command)
