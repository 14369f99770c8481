"""`proofgate check FILE`: one submission, checked in-process or on a server, shown or as JSON.

Exit codes: 0 proved or compiled; 1 any other verdict of the submission; 2 usage (bad options,
unreadable file, malformed submission); 3 infrastructure (not ready, busy, unreachable server, and
the `timeout`/`out_of_memory`/`internal` verdicts).
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from proofgate.cli.common import (
    EnvironmentOption,
    ExitCode,
    ServerOption,
    command_backend,
    read_input,
    show_result,
    stop,
    stop_for,
)
from proofgate.exceptions import ProofgateError
from proofgate.models import Message, Submission, Verdict, VerdictStatus
from proofgate.models.validation import submission_error

__all__ = ["build_submission", "check", "exit_code_for", "register", "render_verdict"]

_STYLE = {
    VerdictStatus.proved: "bold green",
    VerdictStatus.compiled: "bold green",
    VerdictStatus.incomplete: "bold yellow",
    VerdictStatus.rejected: "bold magenta",
}


def exit_code_for(verdict: Verdict) -> ExitCode:
    if verdict.status.is_success:
        return ExitCode.ok
    if verdict.status.is_unfinished:
        return ExitCode.infra
    return ExitCode.failed


def build_submission(
    text: str,
    *,
    statement: str | None,
    target: str | None,
    proof: bool,
    environment: str,
    timeout: float | None,
) -> Submission:
    """The submission the options describe; a malformed one raises `SubmissionError`."""
    fields: dict[str, object] = {"environment": environment, "timeout": timeout}
    if statement is not None:
        fields["statement"] = statement
        fields["proof" if proof else "code"] = text
    else:
        fields["code"] = text
        fields["target"] = target
    try:
        return Submission.model_validate(
            {key: value for key, value in fields.items() if value is not None}
        )
    except ValidationError as exc:
        raise submission_error(exc, "submission") from exc


async def _check(server: str | None, submission: Submission) -> Verdict:
    async with command_backend(server) as backend:
        return await backend.check(submission)


def _annotated_source(source: str, messages: list[Message]) -> Text:
    """The submitter's text with each positioned message under its line (when no feedback came)."""
    by_line: dict[int, list[Message]] = {}
    for message in messages:
        if message.pos is not None:
            by_line.setdefault(message.pos.line, []).append(message)
    lines = source.splitlines() or [""]
    width = len(str(len(lines)))
    text = Text()
    for number, line in enumerate(lines, start=1):
        text.append(f"{number:>{width}} | ", style="dim")
        text.append(line + "\n")
        for message in by_line.get(number, []):
            column = message.pos.column if message.pos else 0
            style = "red" if message.severity.value == "error" else "yellow"
            text.append(" " * (width + 3 + column) + "^ ", style=style)
            text.append(f"{message.severity.value} [{message.category.value}]: ", style=style)
            text.append(message.text.splitlines()[0] if message.text else "")
            text.append("\n")
    return text


def render_verdict(verdict: Verdict, out: Console, *, source: str | None = None) -> None:
    """The verdict for a person: status, reason, the annotated code, then the details (columns
    1-based, as editors count; the JSON keeps the models' 0-based ones)."""
    header = Text(f" {verdict.status.value} ", style=_STYLE.get(verdict.status, "bold red"))
    if verdict.target:
        header.append(f"  {verdict.target}", style="bold")
    header.append(f"  ({verdict.kind}, {verdict.timings.total_ms / 1000:.2f}s", style="dim")
    header.append(", cached)" if verdict.cached else ")", style="dim")
    out.print(header)
    if verdict.reason:
        out.print(Text(verdict.reason))
    if verdict.feedback:
        out.print(Panel(Text(verdict.feedback), title="feedback", title_align="left", expand=False))
    elif source is not None and any(m.pos for m in verdict.messages):
        out.print(
            Panel(
                _annotated_source(source, verdict.messages),
                title="code",
                title_align="left",
                expand=False,
            )
        )
    for violation in verdict.violations:
        out.print(
            Text(
                f"policy {violation.line}:{violation.column + 1} [{violation.rule}] ",
                style="magenta",
            )
            + Text(violation.message)
        )
    for message in verdict.messages:
        where = f"{message.pos.line}:{message.pos.column + 1} " if message.pos else ""
        style = {"error": "red", "warning": "yellow"}.get(message.severity.value, "cyan")
        out.print(
            Text(f"{where}{message.severity.value} [{message.category.value}] ", style=style)
            + Text(message.text)
        )
        for goal in message.goals:
            out.print(Text("  goal: ", style="dim") + Text(goal))
    for sorry in verdict.sorries:
        where = f"{sorry.pos.line}:{sorry.pos.column + 1} " if sorry.pos else ""
        out.print(Text(f"{where}sorry ", style="yellow") + Text(sorry.goal))
    if verdict.axioms:
        out.print(Text("axioms: ", style="dim") + Text(", ".join(verdict.axioms)))
    if verdict.pins is not None:
        pins = verdict.pins
        out.print(
            Text(
                f"Lean {pins.lean}, Mathlib {pins.mathlib[:12]}, checker {pins.checker}, "
                f"environment {pins.environment}",
                style="dim",
            )
        )


def check(
    file: Annotated[Path, typer.Argument(help="The Lean file to check (`-` reads stdin).")],
    statement: Annotated[
        Path | None,
        typer.Option(
            "--statement",
            help="A locked statement (a theorem proved by `sorry`) that FILE must prove.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="A theorem FILE must declare (free compile): a missing one fails, category "
            "target_missing.",
        ),
    ] = None,
    proof: Annotated[
        bool,
        typer.Option("--proof", help="FILE is just the proof (`by ...` or a term) of --statement."),
    ] = False,
    server: ServerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    environment: EnvironmentOption = "default",
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.001, help="Seconds (capped by the server).")
    ] = None,
) -> None:
    """Check one Lean file (or a proof of a locked statement) and show the verdict."""
    if statement is not None and target is not None:
        stop(
            "give --statement (a locked check) or --target (a free compile), not both; the "
            "statement's target is its last theorem",
            ExitCode.usage,
            as_json=as_json,
            kind="usage",
        )
    if proof and statement is None:
        stop("--proof needs --statement FILE", ExitCode.usage, as_json=as_json, kind="usage")
    source = read_input(file, "file", as_json=as_json)
    statement_text = (
        None if statement is None else read_input(statement, "statement", as_json=as_json)
    )
    try:
        submission = build_submission(
            source,
            statement=statement_text,
            target=target,
            proof=proof,
            environment=environment,
            timeout=timeout,
        )
        verdict = asyncio.run(_check(server, submission))
    except ProofgateError as exc:
        stop_for(exc, as_json=as_json)
    show_result(
        as_json=as_json,
        json_text=verdict.model_dump_json(indent=2),
        render=partial(render_verdict, verdict, source=source),
        code=exit_code_for(verdict),
    )


def register(app: typer.Typer) -> None:
    app.command()(check)
