"""`proofgate report RESULTS.jsonl --out DIR`: the failure-mode report of a batch.

Exit codes: 0 written; 2 usage (unreadable results, matplotlib missing, unwritable DIR).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from proofgate.cli.common import ExitCode, console, fail
from proofgate.exceptions import ConfigError

__all__ = ["register", "report"]


def report(
    results: Annotated[
        Path, typer.Argument(metavar="RESULTS.jsonl", help="The output of `proofgate batch`.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Where report.html, summary.md go.")
    ],
    top: Annotated[
        int, typer.Option("--top", min=1, max=200, help="Error message patterns to list.")
    ] = 15,
) -> None:
    """Write how a batch failed: verdicts, error categories and messages, times, retries, cheats."""
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
    for path in written[:2]:
        console.print(escape(f"wrote {path}"))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
