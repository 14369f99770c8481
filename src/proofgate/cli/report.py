"""`proofgate report RESULTS.jsonl --out DIR`: the failure-mode report of a batch; for a batch run
in several environments (`proofgate batch --environments A,B`) also the items whose verdict differs
between them, printed and in the report (versions.json holds them as JSON).
`proofgate report LOG.ndjson [--out DIR] [--json]`: a trainer adapter's reward log, per step.

A reward log (`reward_log=` of an adapter in `proofgate.rewards`) is told apart by its lines
(`--rewards` says so outright): its report is a table of each step's completions, mean reward,
share proved, cheat rate and cheats by class; `--json` prints it as JSON instead, and `--out DIR`
writes `rewards.json` and, with the `report` extra, the plot `rewards.png`.

Exit codes: 0 written; 2 usage (unreadable results or log, a malformed log line, matplotlib
missing for a batch's report, unwritable DIR).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.cli.common import ExitCode, console, fail, stop
from proofgate.exceptions import ConfigError

if TYPE_CHECKING:
    from proofgate.reports.reward_log import RewardLogSummary
    from proofgate.reports.versions import VersionComparison

__all__ = ["register", "report"]


def report(
    results: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS.jsonl|LOG.ndjson",
            help="The output of `proofgate batch`, or a trainer adapter's reward log.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Where report.html, summary.md go (a reward log: rewards.json, rewards.png).",
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", min=1, max=200, help="Error message patterns to list.")
    ] = 15,
    rewards: Annotated[
        bool,
        typer.Option("--rewards", help="Read the file as a reward log (else told by its lines)."),
    ] = False,
    window: Annotated[
        int,
        typer.Option("--window", min=1, help="A reward log: count this many steps as one row."),
    ] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="A reward log: print the report as JSON on stdout.")
    ] = False,
) -> None:
    """Write how a batch failed (verdicts, error categories and messages, times, retries, cheats),
    or, for a reward log, the cheat rate, mean reward and share proved per training step."""
    from proofgate.reports.reward_log import is_reward_log

    if rewards or is_reward_log(results):
        _reward_report(results, out, window=window, as_json=as_json)
        return
    if as_json:
        stop("--json is for a reward log's report", ExitCode.usage, as_json=True, kind="usage")
    if out is None:
        fail("a batch's report needs --out DIR (where report.html and summary.md go)")
    _failure_report(results, out, top=top)


def _failure_report(results: Path, out: Path, *, top: int) -> None:
    from proofgate.reports.failure_page import write_failure_report
    from proofgate.reports.failures import analyse_results

    try:
        summary = analyse_results(results, top=top)
        written = write_failure_report(summary, out)
    except ConfigError as exc:
        fail(str(exc), ExitCode.usage)
    console.print(
        f"{summary.total} items: {summary.successes} proved or compiled, "
        f"{summary.outcomes['failed']} failed, {summary.cheats_caught()} cheats caught"
    )
    if summary.versions is not None:
        _print_versions(summary.versions)
    for path in written[:2]:
        console.print(escape(f"wrote {path}"))


#: Differing items printed; the report's files list them all.
_SHOWN_DIFFERENCES = 50


def _print_versions(comparison: VersionComparison) -> None:
    from proofgate.reports.versions import headline

    console.print(escape(headline(comparison)))
    if not comparison.differing:
        return
    table = Table(title="verdicts that differ between environments", title_justify="left")
    table.add_column("item")
    for name in comparison.environments:
        table.add_column(escape(name))
    for item in comparison.differing[:_SHOWN_DIFFERENCES]:
        cells = (item.outcome(name) for name in comparison.environments)
        table.add_row(escape(item.id), *(escape(cell) for cell in cells))
    console.print(table)
    hidden = len(comparison.differing) - _SHOWN_DIFFERENCES
    if hidden > 0:
        console.print(f"and {hidden} more: see summary.md or versions.json")


def _reward_report(log: Path, out: Path | None, *, window: int, as_json: bool) -> None:
    from proofgate.reports.reward_log import read_reward_log, summarise, write_reward_report

    try:
        summary = summarise(read_reward_log(log), window=window)
        written = write_reward_report(summary, out) if out is not None else []
    except ConfigError as exc:
        stop(str(exc), ExitCode.usage, as_json=as_json, kind="usage")
    if as_json:
        typer.echo(json.dumps(summary.as_json(), indent=2))
    else:
        console.print(_table(summary, log))
    for path in written:
        console.print(escape(f"wrote {path}"))
    if out is not None and not any(path.suffix == ".png" for path in written):
        console.print(
            escape("no plot: install the `report` extra (pip install 'proofgate[report]')")
        )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(summary: RewardLogSummary, log: Path) -> Table:
    total = summary.total
    title = (
        f"{escape(str(log))}: {total.records} completions, cheat rate {total.cheat_rate:.3f}, "
        f"proved {total.proved_rate:.3f}"
    )
    table = Table(title=title, title_justify="left")
    by = summary.by if summary.window == 1 else f"{summary.by} (per {summary.window})"
    for heading in (by, "completions", "mean reward", "proved", "cheat rate", *summary.classes):
        table.add_column(escape(heading), justify="right")
    for step in summary.steps:
        table.add_row(
            str(step.step),
            str(step.records),
            _rate(step.mean_reward),
            _rate(step.proved_rate),
            _rate(step.cheat_rate),
            *(str(step.cheats[name]) for name in summary.classes),
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("report")(report)
