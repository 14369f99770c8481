"""`proofgate ci`: check every locked result of a Lean repository (or lock them)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from proofgate.backends import SERVER_CONCURRENCY, open_backend
from proofgate.ci.build import find_lake
from proofgate.ci.checkers import Checker
from proofgate.ci.manifest import MANIFEST_NAME
from proofgate.ci.report import dumps_json, github_annotations, render_human, to_junit, to_sarif
from proofgate.ci.results import CiReport, CiResult
from proofgate.ci.runner import lock_repository, run_ci
from proofgate.cli.common import ExitCode, configure_cli_logging, console, fail, load_settings
from proofgate.config import Settings
from proofgate.exceptions import ConfigError

#: Seconds one check may take on a server, queueing included.
REMOTE_TIMEOUT = 600.0


def open_checker(
    settings: Settings, server: str | None
) -> Callable[[], AbstractAsyncContextManager[Checker]]:
    """The checker a run uses: a server given with --server, else the in-process service."""
    api_key = os.environ.get("PROOFGATE_API_KEY") or None  # sent as a bearer token
    return lambda: open_backend(
        settings, server=server, api_key=api_key, timeout=REMOTE_TIMEOUT, require_ready=True
    )


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}", ExitCode.usage)


def _emit(report: CiReport, *, junit: Path | None, sarif: Path | None, as_json: bool) -> None:
    render_human(report, console)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # The Actions runner reads workflow commands from stderr as well as stdout; stderr keeps
        # stdout free for --json.
        for line in github_annotations(report):
            print(line, file=sys.stderr, flush=True)
    if junit is not None:
        _write(junit, to_junit(report))
    if sarif is not None:
        import json

        _write(sarif, json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n")
    if as_json:
        typer.echo(dumps_json(report))


def ci(
    path: Annotated[
        Path, typer.Argument(help="The repository (or a directory in it) to check.")
    ] = Path("."),
    lock: Annotated[
        bool, typer.Option("--lock", help=f"Lock every theorem under PATH into {MANIFEST_NAME}.")
    ] = False,
    server: Annotated[
        str | None, typer.Option(help="Check against this proofgate server (http://host:port).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    sarif: Annotated[Path | None, typer.Option(help="Write SARIF 2.1.0 here.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Do not run `lake build` first.")
    ] = False,
    environment: Annotated[
        str | None,
        typer.Option(
            help="The environment to check in (overrides the manifest's; default: the one whose "
            "toolchain is the repository's lean-toolchain, else `default`)."
        ),
    ] = None,
) -> None:
    """Check that every locked statement is unchanged and proved (exit 0), or say where not (exit 1).

    Exit 2 on a usage error, 3 when proofgate could not check (no toolchain, server down).
    """
    root = path.resolve()
    if not root.is_dir():
        fail(f"{path} is not a directory: give the repository to check")
    settings = load_settings()
    # The service logs to stderr (stdout is the --json report's), for people, quiet unless -v.
    configure_cli_logging(settings)
    try:
        if lock:
            manifest = lock_repository(root)
            console.print(
                f"locked {len(manifest.locked)} theorems in {escape(str(root / MANIFEST_NAME))}"
            )
            return
        report = asyncio.run(
            _run(root, settings, server=server, build=not no_build, environment=environment)
        )
    except ConfigError as exc:
        fail(str(exc), ExitCode.usage)
    _emit(report, junit=junit, sarif=sarif, as_json=as_json)
    raise typer.Exit(report.exit_code)


async def _run(
    root: Path, settings: Settings, *, server: str | None, build: bool, environment: str | None
) -> CiReport:
    concurrency = SERVER_CONCURRENCY if server else settings.workers
    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def planned(total: int) -> None:
            progress.update(task, total=total)

        def done(result: CiResult) -> None:
            progress.update(task, advance=1, description=result.theorem)

        return await run_ci(
            root,
            open_checker(settings, server),
            build=build,
            lake=find_lake(settings),
            environment=environment,
            concurrency=concurrency,
            on_plan=planned,
            on_result=done,
        )


def register(app: typer.Typer) -> None:
    app.command()(ci)
