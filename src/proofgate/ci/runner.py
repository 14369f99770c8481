"""One CI run: lock the statements, build the repository, compare hashes, check every result.

A locked result fails when its file or theorem is gone, when its statement (or what stands before
it) changed since it was locked, or when its verdict is not `proved`. Each check is a locked
submission (`statement` = the theorem's locked statement with `sorry`, `code` = the whole file), so
an unchanged file gives byte-identical submissions and the service answers it from its cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from proofgate.ci.build import run_build
from proofgate.ci.checkers import Checker
from proofgate.ci.discover import Theorem, discover_text, lean_files
from proofgate.ci.environment import choose_environment
from proofgate.ci.manifest import (
    MANIFEST_NAME,
    LockedResult,
    Manifest,
    load_manifest,
    write_manifest,
)
from proofgate.ci.results import CiReport, CiResult, Outcome, display_path
from proofgate.exceptions import ConfigError, ProofgateError
from proofgate.models import Severity, Submission, Verdict, VerdictStatus

__all__ = [
    "CheckJob",
    "check_targets",
    "lock_repository",
    "plan_checks",
    "read_manifest",
    "run_ci",
    "submission_for",
]


@dataclass(frozen=True)
class CheckJob:
    """A theorem to check, with the file text it is checked in."""

    file: str
    theorem: Theorem
    code: str


# --- lock ----------------------------------------------------------------------------------


def _discover_file(path: Path) -> tuple[str, list[Theorem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return text, discover_text(text)


def lock_repository(root: Path) -> Manifest:
    """Lock every public theorem under `root` into `root/proofgate.toml`, keeping its settings."""
    locked: list[LockedResult] = []
    for path in lean_files(root):
        _, theorems = _discover_file(path)
        relative = path.relative_to(root).as_posix()
        for theorem in theorems:
            locked.append(
                LockedResult(
                    file=relative,
                    theorem=theorem.name,
                    line=theorem.line,
                    text_sha256=theorem.text_sha256,
                    context_sha256=theorem.context_sha256,
                )
            )
    manifest = (read_manifest(root) or Manifest()).model_copy(update={"locked": locked})
    write_manifest(root / MANIFEST_NAME, manifest)
    return manifest


# --- plan ----------------------------------------------------------------------------------


def plan_checks(
    root: Path, manifest: Manifest | None, *, base: Path
) -> tuple[list[CheckJob], list[CiResult]]:
    """What to check, and the failures found without Lean (missing targets, changed statements)."""
    jobs: list[CheckJob] = []
    if manifest is None:
        for path in lean_files(root):
            text, theorems = _discover_file(path)
            relative = path.relative_to(root).as_posix()
            jobs.extend(CheckJob(relative, theorem, text) for theorem in theorems)
        return jobs, []
    files: dict[str, tuple[str, dict[str, Theorem]] | None] = {}
    failures: list[CiResult] = []
    for entry in manifest.locked:
        if entry.file not in files:
            path = root / entry.file
            if path.is_file():
                text, theorems = _discover_file(path)
                files[entry.file] = (text, {t.name: t for t in theorems})
            else:
                files[entry.file] = None
        shown = display_path(root, entry.file, base)
        found = files[entry.file]
        theorem = None if found is None else found[1].get(entry.theorem)
        if found is None:
            why = f"{entry.file} is gone; {entry.theorem} was locked there"
        elif theorem is None:
            why = f"{entry.theorem} is no longer in {entry.file} (locked at line {entry.line})"
        elif theorem.text_sha256 != entry.text_sha256:
            why = (
                f"the statement of {entry.theorem} changed since it was "
                "locked; if the change is intended, review it and run `proofgate ci --lock`"
            )
        elif entry.context_sha256 and theorem.context_sha256 != entry.context_sha256:
            why = (
                f"what stands before {entry.theorem} in {entry.file} "
                "(imports, opens, variables, definitions, instances, notation) changed "
                "since it was locked and can change what the statement means; if intended, "
                "review it and run `proofgate ci --lock`"
            )
        else:
            jobs.append(CheckJob(entry.file, theorem, found[0]))
            continue
        if theorem is None:  # shown where it was locked
            status, line, column = "target_missing", entry.line, 0
        else:  # shown where it stands now
            status, line, column = "statement_changed", theorem.line, theorem.column
        failures.append(CiResult(shown, entry.theorem, line, column, status, Outcome.failed, why))
    return jobs, failures


# --- check ---------------------------------------------------------------------------------


def submission_for(job: CheckJob, manifest: Manifest) -> Submission:
    """The locked submission for `job`: the same inputs always give the same submission."""
    return Submission(
        code=job.code,
        statement=job.theorem.statement,
        target=job.theorem.name,
        environment=manifest.environment or "default",
        policy=manifest.policy,
        allowed_axioms=list(manifest.allowed_axioms),
        timeout=manifest.timeout,
    )


def _place(verdict: Verdict, theorem: Theorem) -> tuple[int, int]:
    """Where to point a person: an error (or sorry) in the theorem first, then anywhere, then the theorem."""

    def inside(line: int) -> bool:
        return theorem.line <= line <= theorem.end_line

    errors = [m.pos for m in verdict.messages if m.severity is Severity.error and m.pos is not None]
    sorries = [s.pos for s in verdict.sorries if s.pos is not None]
    for positions in (errors, sorries):
        for position in positions:
            if inside(position.line):
                return position.line, position.column
    if verdict.status is not VerdictStatus.incomplete and errors:
        return errors[0].line, errors[0].column
    if verdict.status is VerdictStatus.incomplete and sorries:
        return sorries[0].line, sorries[0].column
    if verdict.violations:
        return verdict.violations[0].line, verdict.violations[0].column
    return theorem.line, theorem.column


def _message(verdict: Verdict, theorem: Theorem) -> str:
    parts = [f"{theorem.name}: {verdict.reason or verdict.status.value}"]
    first_error = next((m.text for m in verdict.messages if m.severity is Severity.error), None)
    # a policy refusal's reason already names its first rule and says why: do not repeat it
    if first_error and first_error not in verdict.reason and not verdict.violations:
        parts.append(first_error.strip().splitlines()[0])
    return ": ".join(parts)


def result_for(job: CheckJob, verdict: Verdict, *, shown: str, duration_ms: float) -> CiResult:
    line, column = _place(verdict, job.theorem)
    if verdict.status is VerdictStatus.proved:
        outcome = Outcome.passed
    elif verdict.status is VerdictStatus.internal:
        outcome = Outcome.error
    else:
        outcome = Outcome.failed
    return CiResult(
        shown,
        job.theorem.name,
        line,
        column,
        verdict.status.value,
        outcome,
        _message(verdict, job.theorem),
        verdict,
        duration_ms,
    )


async def check_targets(
    jobs: list[CheckJob],
    checker: Checker,
    manifest: Manifest,
    *,
    root: Path,
    base: Path,
    concurrency: int = 4,
    on_result: Callable[[CiResult], None] | None = None,
) -> list[CiResult]:
    """Check every job through `checker`, at most `concurrency` at once, in the jobs' order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(job: CheckJob) -> CiResult:
        shown = display_path(root, job.file, base)
        theorem = job.theorem
        async with gate:
            started = time.perf_counter()
            try:
                submission = submission_for(job, manifest)
                verdict = await checker.check(submission)
            except ValidationError as exc:
                first = exc.errors()[0]
                result = _not_checked(
                    job,
                    shown,
                    Outcome.failed,
                    f"{theorem.name} cannot be submitted: {first['loc'][0]}: {first['msg']}",
                )
            except ProofgateError as exc:
                result = _not_checked(job, shown, Outcome.error, f"not checked: {exc}")
            else:
                elapsed = (time.perf_counter() - started) * 1000
                result = result_for(job, verdict, shown=shown, duration_ms=elapsed)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def read_manifest(root: Path) -> Manifest | None:
    """`root/proofgate.toml`, or None when the repository has none (discovery mode)."""
    path = root / MANIFEST_NAME
    return load_manifest(path) if path.is_file() else None


def _not_checked(job: CheckJob, shown: str, outcome: Outcome, message: str) -> CiResult:
    """The result of a job that was never checked, placed at its theorem."""
    theorem = job.theorem
    return CiResult(
        shown, theorem.name, theorem.line, theorem.column, "not_checked", outcome, message
    )


async def run_ci(
    root: Path,
    open_checker: Callable[[], AbstractAsyncContextManager[Checker]],
    *,
    build: bool = True,
    lake: Path | None = None,
    base: Path | None = None,
    environment: str | None = None,
    concurrency: int = 4,
    on_plan: Callable[[int], None] | None = None,
    on_result: Callable[[CiResult], None] | None = None,
) -> CiReport:
    """The whole run on the repository at `root`: build, compare, check; never raises for a proof.
    `environment` (`--environment`) overrides the manifest's (`proofgate.ci.environment`); a name
    the checker does not serve is a `ConfigError`."""
    started = time.perf_counter()
    base = base or Path.cwd()
    manifest = read_manifest(root)
    report = CiReport(root=root)
    if manifest is None:
        report.notes.append(
            f"no {MANIFEST_NAME}: checking every theorem found (run `proofgate ci --lock` to lock them)"
        )
    if build:
        failures, note = await asyncio.to_thread(run_build, root, lake, base=base)
        report.results.extend(failures)
        report.notes.append(note)
    else:
        report.notes.append("build skipped (--no-build)")
    jobs, failures = plan_checks(root, manifest, base=base)
    if not jobs and not failures and not (manifest and manifest.locked):
        raise ConfigError(f"nothing to check: no theorem under {root} and no locked result")
    report.results.extend(failures)
    if on_plan is not None:
        on_plan(len(jobs))
    checked: list[CiResult] | None = None
    unknown: ConfigError | None = None  # a name the checker does not serve: a usage error
    if jobs:
        try:
            async with open_checker() as checker:
                try:
                    chosen = await choose_environment(root, manifest, environment, checker)
                except ConfigError as exc:
                    unknown = exc
                    checked = []
                else:
                    report.environment = chosen.name
                    report.notes.append(f"environment {chosen.name}: {chosen.why}")
                    settings = {"environment": chosen.name}
                    checked = await check_targets(
                        jobs,
                        checker,
                        (manifest or Manifest()).model_copy(update=settings),
                        root=root,
                        base=base,
                        concurrency=concurrency,
                        on_result=on_result,
                    )
        except ProofgateError as exc:
            if checked is None:
                checked = [
                    _not_checked(
                        job,
                        display_path(root, job.file, base),
                        Outcome.error,
                        f"not checked: {exc}",
                    )
                    for job in jobs
                ]
    if unknown is not None:
        raise unknown
    report.results.extend(checked or [])
    report.results.sort(key=lambda r: (r.file, r.line, r.theorem))
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report
