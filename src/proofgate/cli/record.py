"""`proofgate export` (a verdict in, a signed reproducible report out) and `proofgate replay REPORT`.

export: 0 written; 2 usage (unreadable input, the verdict does not belong to the submission).
replay: 0 the verdict reproduced; 1 it did not (the reasons are printed); 2 usage; 3 the check
could not run (not ready, unreachable server).
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from proofgate.cli.common import (
    ExitCode,
    ServerOption,
    command_backend,
    console,
    fail,
    load_settings,
    show_result,
)
from proofgate.exceptions import ConfigError, ProofgateError, SubmissionError
from proofgate.models import Submission, Verdict
from proofgate.models.validation import first_error, json_object
from proofgate.reports.record import build_record, load_record, render_markdown, write_record
from proofgate.reports.replay import ReplayResult, replay
from proofgate.reports.signing import load_report_key

__all__ = ["export", "read_json_or_line", "register", "replay_command"]


def read_json_or_line(path: Path, item_id: str | None, what: str) -> dict[str, Any]:
    """The JSON object in `path`, or with `item_id` the JSONL line whose `id` is `item_id`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from exc
    if item_id is None:
        return json_object(text, f"the {what} {path}", hint="for a JSONL file give --id")
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and str(value.get("id")) == item_id:
            return value
    raise ConfigError(f"no line with id {item_id!r} in the {what} {path}")


def _verdict_from(value: dict[str, Any], path: Path) -> Verdict:
    payload = value if "status" in value else value.get("verdict")
    if not isinstance(payload, dict):
        error = value.get("error") or {}
        detail = error.get("message", "no `verdict` field") if isinstance(error, dict) else error
        raise ConfigError(f"{path}: that item has no verdict ({detail})")
    try:
        return Verdict.model_validate(payload)
    except ValidationError as exc:
        raise ConfigError(f"{path} does not hold a verdict: {exc.errors()[0]['msg']}") from exc


def _submission_from(value: dict[str, Any], path: Path) -> Submission:
    fields = {name: field for name, field in value.items() if name != "id"}
    try:
        return Submission.model_validate(fields)
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ConfigError(
            f"{path} does not hold a submission: {field or 'submission'}: {message}"
        ) from exc


def export(
    verdict_path: Annotated[
        Path,
        typer.Argument(
            metavar="VERDICT",
            help="A verdict as JSON (`proofgate check --json`), or a batch RESULTS.jsonl with --id.",
        ),
    ],
    submission_path: Annotated[
        Path,
        typer.Option(
            "--submission",
            metavar="SUBMISSION",
            help="The submission as JSON, or the batch INPUT.jsonl with --id.",
        ),
    ],
    item_id: Annotated[
        str | None, typer.Option("--id", help="The item to export from JSONL files.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write REPORT.json and REPORT.md (default: JSON on stdout)."
        ),
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown report instead of JSON.")
    ] = False,
) -> None:
    """Export a verdict as a signed, self-contained, reproducible report."""
    settings = load_settings()
    try:
        verdict = _verdict_from(read_json_or_line(verdict_path, item_id, "verdict"), verdict_path)
        submission = _submission_from(
            read_json_or_line(submission_path, item_id, "submission"), submission_path
        )
        record = build_record(
            submission, verdict, settings, load_report_key(settings), item_id=item_id
        )
        if out is not None:
            markdown_path = write_record(record, out)
            console.print(escape(f"wrote {out} and {markdown_path}"))
            raise typer.Exit(ExitCode.ok)
    except ConfigError as exc:
        fail(str(exc), ExitCode.usage)
    if markdown:
        typer.echo(render_markdown(record), nl=False)
    else:
        typer.echo(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False))


def _show(result: ReplayResult, out: Console) -> None:
    if result.reproduced:
        out.print(
            Text("reproduced", style="bold green") + Text(f": {result.replayed.status.value}")
        )
    else:
        out.print(
            Text("not reproduced", style="bold red")
            + Text(f": recorded {result.original.status.value}, now {result.replayed.status.value}")
        )
        for reason in result.reasons:
            out.print(Text("  - ") + Text(reason))
    out.print(Text(f"signature: {result.signature}", style="dim"))
    if result.replayed.cached:
        out.print(Text("the server answered from its result cache", style="dim"))


def replay_command(
    report: Annotated[Path, typer.Argument(metavar="REPORT", help="A report, .json or .md.")],
    server: ServerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Re-check a report's submission and say whether its verdict reproduces, and why not."""
    settings = load_settings()
    try:
        loaded = load_record(report)
        key = load_report_key(settings)

        async def replay_on_backend() -> ReplayResult:
            # A fresh check: the result cache is off, or the replay would only read the old verdict.
            fresh = settings.model_copy(update={"cache_enabled": False})
            async with command_backend(server, fresh) as backend:
                return await replay(loaded, key, backend.check)

        result = asyncio.run(replay_on_backend())
    except (ConfigError, SubmissionError) as exc:
        fail(str(exc), ExitCode.usage)
    except ProofgateError as exc:
        fail(f"the submission could not be checked again: {exc}", ExitCode.infra)
    show_result(
        as_json=as_json,
        json_text=json.dumps(result.to_json(), indent=2),
        render=partial(_show, result),
        code=ExitCode.ok if result.reproduced else ExitCode.failed,
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("replay")(replay_command)
