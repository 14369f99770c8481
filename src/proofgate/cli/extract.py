"""`proofgate extract INPUT.jsonl --out DATA.jsonl`: training data from verified proofs.

    proofgate extract submissions.jsonl --out data.jsonl [--environment E] [--include-unverified]
    proofgate extract signed-results.jsonl --out data.jsonl

INPUT is the `batch` input (one submission a line, each with an `id`), checked here (in-process,
or on `--server URL`, which lists the steps as this process would: `POST /v1/check/steps`), or a
signed results file (`--signed-results FILE` of an earlier run, one signed record a line), whose
verdicts are taken without checking again; an unsigned or edited one is refused, naming the line.
For every item proved (the trusted audit's verdict) DATA.jsonl gets one record per tactic step and
one per proof (docs/extract.md: the schema, `proofgate-extract/1`); with --include-unverified every
checked item does, each record carrying its verdict.

Exit codes: 0 written (whatever the verdicts); 2 usage (unreadable input, a refused results file,
bad options); 3 the backend could not go on (not ready, busy, unreachable server): DATA.jsonl is
not written then.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.backends import Backend, LocalBackend, RemoteBackend
from proofgate.batch.input import BatchItem, read_items
from proofgate.cli.common import (
    ExitCode,
    ServerOption,
    command_backend,
    console,
    fail,
    load_settings,
)
from proofgate.config import Settings
from proofgate.exceptions import ConfigError, ProofgateError
from proofgate.extract.runner import ExtractOptions, ExtractSummary, Pending, run_extract
from proofgate.extract.signed import (
    CheckedItem,
    is_results_file,
    read_signed_results,
    signed_line,
)
from proofgate.extract.steps import ServerSteps, ServiceSteps, StepSource
from proofgate.reports.signing import ReportKey, load_report_key

__all__ = ["extract", "register"]


def _pending(
    input_path: Path, key: ReportKey, environment: str | None, skipped: list[str]
) -> list[Pending]:
    """The items of INPUT: a signed results file's (each signature checked first), or the
    submissions of a batch input (a malformed line is skipped, said in `skipped`)."""
    if is_results_file(input_path):
        items = read_signed_results(input_path, key)
        for item in items:
            if environment is not None and item.submission.environment != environment:
                raise ConfigError(
                    f"{input_path}, line {item.line}: checked in environment "
                    f"{item.submission.environment!r}, not {environment!r}: drop --environment "
                    "or give results of that environment"
                )
        return [Pending(i.id, i.line, i.submission, i.verdict) for i in items]
    pending = []
    for entry in read_items(input_path):
        if not isinstance(entry, BatchItem):
            problem = entry.error
            message = problem.message if problem is not None else "unreadable"
            skipped.append(f"line {entry.line} ({entry.id}): {message}")
            continue
        submission = entry.submission
        if environment is not None:
            submission = submission.model_copy(update={"environment": environment})
        pending.append(Pending(entry.id, entry.line, submission))
    return pending


def _source(backend: Backend) -> StepSource:
    """Verdicts and steps from the backend: `CheckerService.check_with_tactics` in this process,
    or on the server behind its `POST /v1/check/steps`."""
    if isinstance(backend, LocalBackend):
        return ServiceSteps(backend.service)
    if isinstance(backend, RemoteBackend):
        return ServerSteps(backend.client)
    raise TypeError(f"extract cannot list steps on a {type(backend).__name__}")


def _summary(summary: ExtractSummary, out: Path, signed: Path | None) -> None:
    table = Table(title="extract", show_header=False, title_justify="left")
    table.add_row("items", str(summary.items))
    for outcome, count in sorted(summary.outcomes.items()):
        table.add_row(f"  {outcome}", str(count))
    table.add_row("extracted", f"{summary.extracted} items, {summary.steps} steps")
    table.add_row("data", escape(str(out)))
    if signed is not None:
        table.add_row("signed results", escape(str(signed)))
    if summary.skipped:
        table.add_row("skipped", str(len(summary.skipped)))
    console.print(table)
    for reason in summary.skipped[:10]:
        console.print(escape(f"skipped: {reason}"))


def _open_new(path: Path) -> tuple[Path, IO[str]]:
    """A temporary file beside `path`, renamed over it once the run is complete."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return partial, partial.open("w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc


def extract(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.jsonl",
            help="Submissions (the `batch` input), or a signed results file (--signed-results).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DATA.jsonl", help="The records (replaced).")
    ],
    environment: Annotated[
        str | None,
        typer.Option("--environment", help="Check every item in this pinned environment."),
    ] = None,
    include_unverified: Annotated[
        bool,
        typer.Option(
            "--include-unverified",
            help="Records for every checked item, not only the proved ones (each says its verdict).",
        ),
    ] = False,
    signed_results: Annotated[
        Path | None,
        typer.Option(
            "--signed-results",
            metavar="FILE",
            help="Also write each verdict checked here as a signed record (JSONL), which a later "
            "extract takes without checking again.",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Items checked at once.")] = 2,
    server: ServerOption = None,
) -> None:
    """Write training data (tactic steps and proofs) from the items proofgate proved."""
    settings: Settings = load_settings()
    skipped: list[str] = []
    try:
        key = load_report_key(settings)
        items = _pending(input_path, key, environment, skipped)
    except ConfigError as exc:
        fail(str(exc), ExitCode.usage)
    options = ExtractOptions(include_unverified=include_unverified, jobs=jobs)

    async def work(data: IO[str], signed: IO[str] | None) -> ExtractSummary:
        def sign(item: CheckedItem) -> None:
            if signed is None:
                return
            try:
                signed.write(signed_line(item, settings, key) + "\n")
            except ConfigError as exc:
                skipped.append(f"line {item.line} ({item.id}): not signed: {exc}")

        async with command_backend(server, settings) as backend:
            return await run_extract(
                items, data, source=_source(backend), options=options, on_checked=sign
            )

    outputs: list[tuple[Path, Path, IO[str]]] = []
    try:
        for target in (out, signed_results):
            if target is not None:
                outputs.append((target, *_open_new(target)))
        signed_stream = outputs[1][2] if signed_results is not None else None
        summary = asyncio.run(work(outputs[0][2], signed_stream))
        summary.skipped[:0] = skipped
    except ConfigError as exc:
        _discard(outputs)
        fail(str(exc), ExitCode.usage)
    except ProofgateError as exc:
        _discard(outputs)
        fail(f"{exc}; nothing was written: run the same command again", ExitCode.infra)
    except KeyboardInterrupt:
        _discard(outputs)
        fail("interrupted: nothing was written", ExitCode.interrupted)
    for target, partial, stream in outputs:
        stream.close()
        os.replace(partial, target)
    _summary(summary, out, signed_results)
    raise typer.Exit(ExitCode.ok)


def _discard(outputs: list[tuple[Path, Path, IO[str]]]) -> None:
    for _, partial, stream in outputs:
        stream.close()
        partial.unlink(missing_ok=True)


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
