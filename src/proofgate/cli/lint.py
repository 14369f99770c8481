"""`proofgate lint FILE`: the policy pass alone, without Lean (editors, pre-commit hooks).

Inside a Lake project (a `lakefile.lean` or `lakefile.toml` in FILE's directory or above), the
project's own libraries are importable too. `--no-sorry` also refuses `sorry`, `admit` and `axiom`
declarations in FILE. A person reads 1-based columns (as editors count); `--json` keeps the
models' 0-based ones. Exit 0 when nothing is refused, 1 when something is, 2 on a usage error (a
missing file, an unknown environment, a statement of the wrong shape).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from proofgate.cli.common import (
    EnvironmentOption,
    ExitCode,
    console,
    fail,
    load_settings,
    read_input,
)
from proofgate.exceptions import ConfigError, SubmissionError
from proofgate.lean.lexer import iter_tokens
from proofgate.models import Submission, Violation
from proofgate.verify.assemble import assemble
from proofgate.verify.lint_policy import lint_policy
from proofgate.verify.policy import PolicyConfig, PolicyResult, check_source, check_submission

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["lake_project_roots", "lint", "register", "sorry_violations"]


class ProfileChoice(str, Enum):
    strict = "strict"
    permissive = "permissive"


def _config(profile: ProfileChoice | None, environment: str) -> PolicyConfig:
    try:
        policy = lint_policy(
            load_settings(), environment, profile=profile.value if profile is not None else None
        )
    except ConfigError as exc:
        fail(str(exc))
    if policy.note:
        console.print(f"[yellow]note:[/yellow] {escape(policy.note)}")
    return policy.config


#: `lean_lib Foo`, `lean_lib «Foo Bar»`, and `roots := #[`Foo, `Bar.Baz]` in a lakefile.lean.
_LEAN_LIB = re.compile(r"^\s*lean_lib\s+(?:«([^»]+)»|([^\s{]+))", re.MULTILINE)
_ROOTS = re.compile(r"roots\s*:=\s*#\[([^\]]*)\]")


def lake_project_roots(start: Path) -> frozenset[str]:
    """The module roots of the Lake project `start` is in (its `lean_lib`s and their `roots`), read
    from the nearest `lakefile.lean` or `lakefile.toml` at or above `start`; empty outside one."""
    for directory in (start, *start.parents):
        lean, toml = directory / "lakefile.lean", directory / "lakefile.toml"
        names: list[str] = []
        if lean.is_file():
            text = lean.read_text(encoding="utf-8", errors="replace")
            names += [quoted or bare for quoted, bare in _LEAN_LIB.findall(text)]
            for listed in _ROOTS.findall(text):
                names += [name.strip().lstrip("`") for name in listed.split(",") if name.strip()]
        elif toml.is_file():
            try:
                libs = tomllib.loads(toml.read_text(encoding="utf-8")).get("lean_lib", [])
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                fail(f"cannot read {toml}: {exc}")
            for lib in libs if isinstance(libs, list) else []:
                names += [str(lib.get("name", ""))] + [str(r) for r in lib.get("roots", [])]
        else:
            continue
        return frozenset(name.split(".")[0] for name in names if name)
    return frozenset()


def sorry_violations(text: str) -> list[Violation]:
    """`sorry`, `admit` and `axiom` declarations in `text`: what `--no-sorry` refuses."""
    found: list[Violation] = []
    for token in iter_tokens(text):
        if token.is_word("sorry", "admit"):
            message = f"`{token.text}` leaves the proof unfinished: prove it"
            found.append(
                Violation(rule="sorry", line=token.line, column=token.column, message=message)
            )
        elif token.is_word("axiom"):
            message = "an `axiom` is assumed, not proved: state it as a theorem and prove it"
            found.append(
                Violation(rule="axiom", line=token.line, column=token.column, message=message)
            )
    return found


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
    environment: EnvironmentOption = "default",
    no_sorry: Annotated[
        bool,
        typer.Option(
            "--no-sorry", help="Also refuse `sorry`, `admit` and `axiom` declarations in FILE."
        ),
    ] = False,
) -> None:
    """Run the policy pass alone (no Lean needed): exit 0 if ok, 1 if anything is refused."""
    # as_json=False: lint reports every usage error on stderr alone
    text = read_input(file, "file", as_json=False)
    statement_text = (
        read_input(statement, "statement", as_json=False) if statement is not None else None
    )
    config = _config(profile, environment)
    project = lake_project_roots(Path.cwd() if str(file) == "-" else file.resolve().parent)
    if project:  # a Lake project's own libraries are importable inside it
        config = dataclasses.replace(config, import_roots=config.import_roots | project)
    result = _policy(text, statement_text, proof=proof, config=config)
    if no_sorry:
        refused = sorted(
            [*result.violations, *sorry_violations(text)], key=lambda v: (v.line, v.column)
        )
        result = dataclasses.replace(result, violations=tuple(refused))
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
                f"{file}:{violation.line}:{violation.column + 1}: [{violation.rule}] "
                f"{violation.message}"
            )
        for note in result.notes:
            console.print(
                escape(f"note: {file}:{note.line}:{note.column + 1}: [{note.rule}] {note.message}")
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
