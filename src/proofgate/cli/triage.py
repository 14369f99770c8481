"""`proofgate triage`: is a statement false, vacuous or trivial? One file, or a JSONL batch.

    proofgate triage Statement.lean [--json]
    proofgate triage statements.jsonl --out triaged.jsonl [--json]

A batch line is a JSON object with `statement` (or `formal_statement`, as miniF2F writes it), an
optional `id` (or `name`) echoed in the output, and optionally the other `TriageRequest` fields;
other keys are ignored. Each output line is `{"line", "id", "result"}` or `{"line", "id",
"error"}`; the summary counts the statements that are false, vacuous or trivial.

Exit codes: 0 the statement elaborates and no flag holds (batch: every one); 1 a flag holds, or it
does not elaborate or is refused (batch: any); 2 usage; 3 infrastructure (not ready, busy,
unreachable server, an elaboration proofgate could not finish; batch: any).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from proofgate.cli.common import (
    BudgetOption,
    CliConsole,
    ClosersOption,
    EnvironmentOption,
    ExitCode,
    ServerOption,
    command_backend,
    console,
    error_kind,
    read_input,
    show_result,
    stop,
    stop_for,
)
from proofgate.exceptions import ProofgateError
from proofgate.models import ProbeOutcome, TriageRequest, TriageResult
from proofgate.models.validation import first_error

__all__ = ["exit_code_for", "read_batch", "register", "render_triage_result", "triage"]

TriageFunction = Callable[[TriageRequest], Awaitable[TriageResult]]
_OUTCOME_STYLE = {
    ProbeOutcome.closed: "bold red",
    ProbeOutcome.failed: "dim",
    ProbeOutcome.timeout: "yellow",
    ProbeOutcome.skipped: "dim",
}


def exit_code_for(result: TriageResult) -> ExitCode:
    if result.elaboration_unfinished:
        return ExitCode.infra
    if result.elaboration != "ok" or result.flags:
        return ExitCode.failed
    return ExitCode.ok


def read_batch(text: str) -> list[tuple[int, object, TriageRequest | str]]:
    """`(line number, id, request or why the line is unusable)` for each non-blank line."""
    items: list[tuple[int, object, TriageRequest | str]] = []
    fields = set(TriageRequest.model_fields)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            items.append((number, None, f"not JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            items.append((number, None, "not a JSON object"))
            continue
        ident = value.get("id", value.get("name"))
        given = {key: value[key] for key in fields if key in value}
        if "statement" not in given and isinstance(value.get("formal_statement"), str):
            given["statement"] = value["formal_statement"]
        try:
            items.append((number, ident, TriageRequest(**given)))
        except ValidationError as exc:
            field, message = first_error(exc)
            items.append((number, ident, f"{field or 'line'}: {message}"))
    return items


async def _with_backend(
    server: str | None, work: Callable[[TriageFunction], Awaitable[Any]]
) -> Any:
    """Run `work` with a triage function: on `server`, or on an in-process service."""
    async with command_backend(server) as backend:
        return await work(backend.triage)


def render_triage_result(result: TriageResult, out: Console) -> None:
    """The triage for a person: the reason, the feedback, then every probe."""
    style = "bold green" if exit_code_for(result) == ExitCode.ok else "bold red"
    header = Text(f" {', '.join(f.value for f in result.flags) or 'no flag'} ", style=style)
    header.append(f"  {result.target or ''}", style="bold")
    header.append(
        f"  (elaboration {result.elaboration}, {result.timings.total_ms / 1000:.2f}s", style="dim"
    )
    header.append(", cached)" if result.cached else ")", style="dim")
    out.print(header)
    out.print(Panel(Text(result.feedback), title="triage", title_align="left", expand=False))
    if result.probes:
        table = Table("kind", "tactic", "outcome", "ms", "detail", box=None, pad_edge=False)
        for probe in result.probes:
            table.add_row(
                probe.kind.value,
                Text(probe.tactic),
                Text(probe.outcome.value, style=_OUTCOME_STYLE[probe.outcome]),
                f"{probe.time_ms:.0f}",
                Text(probe.detail[:80]),
            )
        out.print(table)
    if result.negation_proof:
        out.print(
            Panel(
                Text(result.negation_proof),
                title="negation proof (audited)",
                title_align="left",
                expand=False,
            )
        )


def _one(file: Path, server: str | None, as_json: bool, request_fields: dict[str, Any]) -> NoReturn:
    text = read_input(file, "statement", as_json=as_json)
    try:
        request = TriageRequest(statement=text, **request_fields)
    except ValidationError as exc:
        field, message = first_error(exc)
        stop(
            f"{field or 'statement'}: {message}", ExitCode.usage, as_json=as_json, kind="submission"
        )

    async def work(backend: TriageFunction) -> TriageResult:
        return await backend(request)

    try:
        result: TriageResult = asyncio.run(_with_backend(server, work))
    except ProofgateError as exc:
        stop_for(exc, as_json=as_json)
    show_result(
        as_json=as_json,
        json_text=result.model_dump_json(indent=2),
        render=partial(render_triage_result, result),
        code=exit_code_for(result),
    )


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter(statements=len(rows))
    for row in rows:
        result = row.get("result")
        if result is None:
            counts["errors"] += 1
            continue
        counts[f"elaboration_{result['elaboration']}"] += 1
        for flag, name in (
            ("disproved", "false"),
            ("vacuous", "vacuous"),
            ("trivially_provable", "trivial"),
        ):
            counts[name] += bool(result[flag])
        flagged = result["disproved"] or result["vacuous"] or result["trivially_provable"]
        counts["clean"] += result["elaboration"] == "ok" and not flagged
    keys = (
        "statements",
        "false",
        "vacuous",
        "trivial",
        "clean",
        "elaboration_ok",
        "elaboration_failed",
        "elaboration_rejected",
        "errors",
    )
    return {key: counts[key] for key in keys} | {k: v for k, v in counts.items() if k not in keys}


def _batch(
    file: Path, out: Path, server: str | None, as_json: bool, request_fields: dict[str, Any]
) -> NoReturn:
    try:
        items = read_batch(file.read_text(encoding="utf-8"))
        sink = out.open("w", encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        stop(
            f"cannot read {file} or write {out}: {exc}",
            ExitCode.usage,
            as_json=as_json,
            kind="usage",
        )
    codes: list[ExitCode] = []

    async def work(backend: TriageFunction) -> list[dict[str, Any]]:
        rows = []
        for number, ident, request in items:
            row: dict[str, Any] = {"line": number, "id": ident}
            if isinstance(request, str):
                row["error"] = {"kind": "submission", "message": request}
                codes.append(ExitCode.usage)
            else:
                defaults = {
                    k: v for k, v in request_fields.items() if k not in request.model_fields_set
                }
                request = request.model_copy(update=defaults)
                try:
                    result = await backend(request)
                except ProofgateError as exc:
                    kind, code = error_kind(exc)
                    row["error"] = {"kind": kind, "message": str(exc)}
                    codes.append(code)
                else:
                    row["result"] = result.model_dump(mode="json")
                    codes.append(exit_code_for(result))
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            rows.append(row)
        return rows

    try:
        with sink:
            rows: list[dict[str, Any]] = asyncio.run(_with_backend(server, work))
    except ProofgateError as exc:  # the service could not even start
        stop_for(exc, as_json=as_json)
    summary = _summary(rows)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        table = Table(
            "", "statements", box=None, pad_edge=False, title=f"triage of {escape(file.name)}"
        )
        for key, value in summary.items():
            table.add_row(key.replace("_", " "), str(value))
        CliConsole(highlight=False).print(table)
        console.print(escape(f"results written to {out}"))
    if ExitCode.infra in codes:
        raise typer.Exit(ExitCode.infra)
    raise typer.Exit(ExitCode.failed if any(codes) else ExitCode.ok)


def triage(
    file: Annotated[
        Path,
        typer.Argument(help="A statement (`.lean`, `-` for stdin), or a `.jsonl` batch of them."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Batch mode: write one JSON result a line here.")
    ] = None,
    server: ServerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    target: Annotated[
        str | None, typer.Option("--target", help="The theorem to triage (default: the last one).")
    ] = None,
    environment: EnvironmentOption = "default",
    closer: ClosersOption = None,
    budget: BudgetOption = None,
) -> None:
    """Triage a statement: does it elaborate, and is it false, vacuous or trivially provable?"""
    fields: dict[str, Any] = {
        key: value
        for key, value in {
            "target": target,
            "environment": environment,
            "closers": closer or None,
            "budget": budget,
        }.items()
        if value is not None
    }
    if out is not None or file.suffix == ".jsonl":
        if out is None:
            stop(
                "a .jsonl batch needs --out FILE for its results",
                ExitCode.usage,
                as_json=as_json,
                kind="usage",
            )
        if target is not None:
            stop(
                "--target names one statement's theorem; give `target` per line in a batch",
                ExitCode.usage,
                as_json=as_json,
                kind="usage",
            )
        _batch(file, out, server, as_json, fields)
    _one(file, server, as_json, fields)


def register(app: typer.Typer) -> None:
    app.command()(triage)
