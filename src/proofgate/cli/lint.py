"""`proofgate lint FILE`: the policy pass alone, without Lean (editors, pre-commit hooks).

Exit 0 when nothing is refused, 1 when something is, 2 on a usage error (a missing file, an
unknown environment, a statement of the wrong shape).
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from proofgate.cli.common import ExitCode, console, fail, load_settings, read_input
from proofgate.environments.registry import get_environment
from proofgate.exceptions import ConfigError, SubmissionError
from proofgate.models import Submission
from proofgate.verify.assemble import assemble
from proofgate.verify.policy import (
    DEFAULT_IMPORT_ROOTS,
    PolicyConfig,
    PolicyResult,
    check_source,
    check_submission,
)

__all__ = ["lint", "register"]


class ProfileChoice(str, Enum):
    strict = "strict"
    permissive = "permissive"


def _config(profile: ProfileChoice | None, environment: str) -> PolicyConfig:
    settings = load_settings()
    chosen = profile.value if profile is not None else settings.policy
    try:
        env = get_environment(settings, environment)
    except ConfigError as exc:
        if environment != "default":
            fail(str(exc))
        console.print(
            f"[yellow]note:[/yellow] {escape(str(exc))}; checking imports against the standard Mathlib roots"
        )
        return PolicyConfig(
            profile=chosen, heartbeat_cap=settings.heartbeat_cap, import_roots=DEFAULT_IMPORT_ROOTS
        )
    return PolicyConfig.from_settings(settings, profile=chosen, environment=env)


def _policy(text: str, statement: str | None, *, proof: bool, config: PolicyConfig) -> PolicyResult:
    if statement is None:
        if proof:
            fail("--proof needs --statement: a proof only makes sense against a statement")
        return check_source(text, config)
    try:
        submission = (
            Submission(statement=statement, proof=text)
            if proof
            else Submission(statement=statement, code=text)
        )
        assembled = assemble(submission)
    except SubmissionError as exc:
        fail(f"{exc} (field: {exc.field})" if exc.field else str(exc))
    except ValidationError as exc:
        fail("; ".join(error["msg"] for error in exc.errors()))
    return check_submission(assembled, config)


def lint(
    file: Annotated[Path, typer.Argument(help="The Lean file to check (`-` reads stdin).")],
    statement: Annotated[
        Path | None,
        typer.Option("--statement", help="A locked statement the file proves; it is checked too."),
    ] = None,
    proof: Annotated[
        bool,
        typer.Option("--proof", help="FILE is a proof (`by ...` or a term) for the statement."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    profile: Annotated[
        ProfileChoice | None, typer.Option(help="Policy profile (default: PROOFGATE_POLICY).")
    ] = None,
    environment: Annotated[
        str, typer.Option(help="Environment whose packages may be imported.")
    ] = "default",
) -> None:
    """Run the policy pass alone (no Lean needed): exit 0 if ok, 1 if anything is refused."""
    # as_json=False: lint reports every usage error on stderr alone
    text = read_input(file, "file", as_json=False)
    statement_text = (
        read_input(statement, "statement", as_json=False) if statement is not None else None
    )
    result = _policy(text, statement_text, proof=proof, config=_config(profile, environment))
    if as_json:
        payload = {
            "ok": result.ok,
            "violations": [
                v.model_dump(include={"rule", "line", "column", "message"})
                for v in result.violations
            ],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        for violation in result.violations:
            typer.echo(
                f"{file}:{violation.line}:{violation.column}: [{violation.rule}] "
                f"{violation.message}"
            )
        for note in result.notes:
            console.print(
                escape(f"note: {file}:{note.line}:{note.column}: [{note.rule}] {note.message}")
            )
        count = len(result.violations)
        console.print(
            "ok: nothing refused"
            if result.ok
            else f"refused: {count} violation{'s' * (count != 1)}"
        )
    raise typer.Exit(ExitCode.ok if result.ok else ExitCode.failed)


def register(app: typer.Typer) -> None:
    app.command()(lint)
