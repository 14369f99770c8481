"""`proofgate audit-statements`: audit a benchmark's statements before anyone reports a score.

    proofgate audit-statements minif2f.jsonl [lineage2.jsonl ...] [--environment E] [--out DIR]

Each input is JSONL in miniF2F, ProofNet or PutnamBench shape (`proofgate.triage.dataset` lists
the fields); several inputs are lineages of one benchmark, matched by name. Every statement is
triaged and its elaborated type asked of Lean, with and without auto-bound implicits
(`proofgate.triage.statement_audit`); the findings (`proofgate.triage.dataset_report`) go to
DIR/report.json, DIR/report.md and DIR/report.html, what Lean said to DIR/records.jsonl.

Resumable as `batch` is: running the same command again redoes only the statements not audited
to the end, and rewrites the report from all records.

Exit codes: 0 no finding; 1 findings; 2 usage; 3 not every statement could be audited (not
ready, busy, unreachable server, a query that did not finish: run the same command again).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from proofgate.cli.common import (
    BudgetOption,
    CliConsole,
    ClosersOption,
    EnvironmentOption,
    ExitCode,
    ServerOption,
    command_backend,
    console,
    fail,
    stop_for,
)
from proofgate.exceptions import ProofgateError
from proofgate.triage.dataset import Lineage, read_lineages
from proofgate.triage.dataset_report import (
    AuditReport,
    build_report,
    render_html,
    render_markdown,
)
from proofgate.triage.statement_audit import AuditOptions, RecordsFile, run_audit

__all__ = ["audit_statements", "register", "write_report"]

RECORDS = "records.jsonl"


def write_report(report: AuditReport, out: Path) -> None:
    """The report's three renderings in `out`."""
    (out / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")


def _summary(report: AuditReport, out: Path) -> None:
    table = Table("finding", "count", box=None, pad_edge=False, title="statement audit")
    for kind, count in report.counts.items():
        table.add_row(kind, str(count))
    CliConsole(highlight=False).print(table)
    audited = sum(row.status == "audited" for row in report.statements)
    console.print(
        escape(
            f"{audited} of {len(report.statements)} statements audited; "
            f"report in {out / 'report.html'} (and .md, .json)"
        )
    )


def audit_statements(
    inputs: Annotated[
        list[Path], typer.Argument(help="JSONL inputs; several are lineages of one benchmark.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the records and the report.")
    ] = Path("statement-audit"),
    environment: EnvironmentOption = "default",
    server: ServerOption = None,
    closer: ClosersOption = None,
    budget: BudgetOption = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="Statements audited at the same time.")
    ] = 2,
) -> None:
    """Audit a benchmark's statements: trivial, false, vacuous, auto-bound, truncating,
    duplicated, differing between lineages, or not elaborating."""
    try:
        lineages: list[Lineage] = read_lineages(inputs)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the inputs: {exc}; give JSONL files", ExitCode.usage)
    statements = [s for lineage in lineages for s in lineage.statements]
    options = AuditOptions(environment=environment, closers=closer or None, budget=budget)
    stopped: ProofgateError | None = None
    try:
        with RecordsFile(out / RECORDS) as records:

            async def work() -> None:
                async with command_backend(server) as backend:
                    await run_audit(
                        statements,
                        options,
                        records,
                        triage=backend.triage,
                        check=backend.check,
                        jobs=jobs,
                    )

            try:
                asyncio.run(work())
            except ProofgateError as exc:  # the backend could not go on: report what is done
                stopped = exc
            held = dict(records.records)
    except ProofgateError as exc:  # the records file itself
        stop_for(exc, as_json=False)
    pins: Any = next((r.triage.pins for r in held.values() if r.triage is not None), None)
    report = build_report(lineages, held, pins)
    try:
        write_report(report, out)
    except OSError as exc:
        fail(f"cannot write the report in {out}: {exc}", ExitCode.usage)
    _summary(report, out)
    if stopped is not None:
        fail(f"{stopped}; run the same command again to resume", ExitCode.infra)
    if not report.complete:
        fail("not every statement was audited: run the same command again", ExitCode.infra)
    raise typer.Exit(ExitCode.failed if report.findings else ExitCode.ok)


def register(app: typer.Typer) -> None:
    app.command("audit-statements")(audit_statements)
