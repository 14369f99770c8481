"""`proofgate batch INPUT.jsonl --out RESULTS.jsonl [--server URL | --ray [ADDRESS]]
[--environments A,B,... | --environment E]`.

Each item is checked in the environment its line names, or in each environment `--environments`
lists (one record per item and environment: the cross-version comparison `proofgate report`
shows); a name the backend does not know is a usage error before anything is checked.

Exit codes: 0 every input line has its record (whatever the verdicts); 2 usage (bad options, an
unreadable or edited results file); 3 the backend could not go on (not ready, unreachable, lost);
130 interrupted. In every non-zero case, running the same command again resumes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from proofgate.backends import SERVER_CONCURRENCY
from proofgate.batch.executors.base import BatchExecutor
from proofgate.batch.input import BatchRecord
from proofgate.batch.runner import BatchSummary, run_batch
from proofgate.cli.common import ExitCode, configure_cli_logging, console, fail, load_settings
from proofgate.exceptions import ConfigError, ProofgateError

if TYPE_CHECKING:
    # typer vendors click: the Context its commands parse with is this one, not `click.Context`.
    from typer._click.core import Context

__all__ = ["batch", "make_executor", "parse_environments", "register"]

#: What a bare `--ray` means: a private Ray on this machine for this run.
LOCAL_RAY = "local"


class _OptionalRayAddress(TyperCommand):
    """Lets `--ray` stand alone (`--ray` = `--ray local`), as `--ray [ADDRESS]` promises."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        fixed: list[str] = []
        for index, arg in enumerate(args):
            fixed.append(arg)
            following = args[index + 1] if index + 1 < len(args) else None
            if arg == "--ray" and (following is None or following.startswith("-")):
                fixed.append(LOCAL_RAY)
        return super().parse_args(ctx, fixed)


class _RateColumn(ProgressColumn):
    """Items a second, over the recent past."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "- items/s", style="progress.data.speed")


def make_executor(
    *, server: str | None, ray: str | None, concurrency: int | None, actors: int | None
) -> BatchExecutor:
    """The executor the options name (in this process when neither --server nor --ray is given)."""
    if server and ray:
        raise ConfigError("give --server URL or --ray [ADDRESS], not both")
    if actors is not None and not ray:
        raise ConfigError("--actors needs --ray")
    if ray:
        from proofgate.batch.executors.ray_cluster import RayExecutor

        return RayExecutor(ray, actors=actors, concurrency=concurrency)
    from proofgate.batch.executors.checker import CheckerExecutor

    api_key = os.environ.get("PROOFGATE_API_KEY") or None
    return CheckerExecutor(load_settings(), server=server, api_key=api_key, concurrency=concurrency)


def parse_environments(listed: str | None, single: str | None) -> tuple[str, ...]:
    """The environments `--environments A,B,...` (or `--environment E`) name, in order; ()
    when neither is given. Both, an empty name or one named twice is a `ConfigError`."""
    if listed is not None and single is not None:
        raise ConfigError("give --environments A,B,... or --environment NAME, not both")
    if single is not None:
        listed = single
    if listed is None:
        return ()
    names = tuple(name.strip() for name in listed.split(","))
    if not all(names):
        raise ConfigError(f"--environments takes names separated by commas, not {listed!r}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"--environments names {', '.join(twice)} more than once")
    return names


def _tally(summary: BatchSummary) -> str:
    top = summary.outcomes.most_common(4)
    return "  ".join(f"{name} {count}" for name, count in top)


def _print_summary(summary: BatchSummary, *, interrupted: bool = False) -> None:
    table = Table(title=f"batch ({summary.backend})", show_header=False, title_justify="left")
    table.add_row("input", Text(str(summary.input_path)))
    table.add_row("results", Text(str(summary.output_path)))
    if summary.environments:
        table.add_row("environments", Text(", ".join(summary.environments)))
        table.add_row("records", f"{summary.total} (one per item and environment)")
    else:
        table.add_row("items", str(summary.total))
    if summary.already_done:
        table.add_row("already done", str(summary.already_done))
    table.add_row("written now", f"{summary.written} in {summary.seconds:.1f}s")
    for outcome, count in sorted(summary.outcomes.items()):
        table.add_row(f"  {outcome}", str(count))
    if summary.torn_bytes:
        table.add_row("torn last line cut", f"{summary.torn_bytes} bytes")
    if summary.remaining:
        verb = "interrupted" if interrupted else "not done"
        table.add_row(verb, f"{summary.remaining}: run the same command again to resume")
    console.print(table)


def batch(
    input_path: Annotated[
        Path,
        typer.Argument(metavar="INPUT.jsonl", help="One submission a line, each with an `id`."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="RESULTS.jsonl", help="Results (appended; resumable)."),
    ],
    server: Annotated[
        str | None, typer.Option("--server", help="Check on this proofgate server (URL).")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Check on Ray actors (the `ray` extra). Alone: a private Ray on this machine; "
            "`auto`: the cluster this machine belongs to; HOST:PORT or ray://HOST:10001: that one.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Checks in flight (per actor with --ray). Default: twice the workers locally, "
            f"{SERVER_CONCURRENCY} on a server, 4 per actor.",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option("--actors", min=1, help="Ray actors to start (default: one per node)."),
    ] = None,
    environments: Annotated[
        str | None,
        typer.Option(
            "--environments",
            metavar="A,B,...",
            help="Check every item in each of these environments (one record per item and "
            "environment; each line's own `environment` is ignored).",
        ),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment",
            help="Check every item in this environment (each line's own is ignored).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Check every submission of a JSONL file; (id, environment) pairs already in the results
    are skipped."""
    try:
        names = parse_environments(environments, environment)
        backend = make_executor(server=server, ray=ray, concurrency=concurrency, actors=actors)
    except ConfigError as exc:
        fail(str(exc), ExitCode.usage)
    settings = load_settings()
    # the service and backends log to stderr, for people, quiet unless -v (as `check`)
    configure_cli_logging(settings)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tally]}", style="dim"),
        console=console,
        disable=quiet,
        transient=False,
    )
    state: dict[str, Any] = {}

    def on_start(summary: BatchSummary) -> None:
        state["summary"] = summary
        state["task"] = progress.add_task(
            f"batch ({summary.backend})",
            total=summary.total,
            completed=summary.already_done,
            tally="",
        )

    def on_record(_record: BatchRecord) -> None:
        # the summary has already counted the record: the tally reads it from there
        progress.update(state["task"], advance=1, tally=_tally(state["summary"]))

    code = ExitCode.ok
    with progress:
        try:
            summary = asyncio.run(
                run_batch(
                    input_path,
                    out,
                    backend,
                    environments=names,
                    on_start=on_start,
                    on_record=on_record,
                )
            )
        except KeyboardInterrupt:
            progress.stop()
            if "summary" in state:
                _print_summary(state["summary"], interrupted=True)
            fail("interrupted: run the same command again to resume", ExitCode.interrupted)
        except ConfigError as exc:
            progress.stop()
            fail(str(exc), ExitCode.usage)
        except ProofgateError as exc:
            progress.stop()
            if "summary" in state:
                _print_summary(state["summary"])
            fail(f"{exc}; run the same command again to resume", ExitCode.infra)
    _print_summary(summary)
    if not summary.complete:
        code = ExitCode.infra
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(cls=_OptionalRayAddress)(batch)
