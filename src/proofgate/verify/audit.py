"""The trusted audit: the only step that may conclude `proved` (or `compiled`).

Three jailed processes, none of which the submission can talk to:
1. the locked statement compiled once per (statement, environment) into a reference .olean, cached
   under `DATA_DIR/references/<hash>/` (it failing is the statement's fault: `SubmissionError`);
2. the submission compiled to a scratch .olean (`lean -R DIR -o`; its errors are a
   `CompileFailure`). Both are compiled as the module `ProofgateSubmission` (`MODULE`);
3. the trusted checker (`proofgate-checker`, docs/checker-contract.md) on both, read-only, under a
   timeout. Its stdout must be exactly one JSON object that validates as `AuditReport` and agrees
   with what was asked; anything else raises `AuditError`, which the verdict turns into `internal`;
4. optionally (`Settings.leanchecker`), the toolchain's `leanchecker` on the submission's module:
   a second replay by the same kernel, on the same attacker-written file, without rebuilding its
   terms. A second opinion on the kernel, not a defence against a tampered .olean; when it
   disagrees with the checker, the verdict names it (`second_opinion`).

Every process gets the thread count (`lean -j N`; LEAN_NUM_THREADS for Lake and the checkers) and
a process cap sized from it (`proofgate.lean.launch`). Both compiles get the environment's option
set as `-D` flags, so the statement and the submission are elaborated under the same options as
the REPL run (`Environment.option_args`); the reference cache key includes them.

This module is the flow (`Auditor.audit`); its parts: what an audit is asked and answers
(`audit_request`), the jailed processes (`audit_processes`), the reference cache
(`audit_reference`), what a run came to (`audit_runs`), and the checker's output (`checker_output`).
The names other modules and tests import from here are re-exported (`__all__`).
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from proofgate.config import Settings, audit_settings_problem
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError, ReplError, ReplTimeout, SubmissionError
from proofgate.lean.pool import ReplRun
from proofgate.sandbox.process import Spawner
from proofgate.verify.audit_processes import CHECKER_BINARY, OLEAN, SOURCE
from proofgate.verify.audit_reference import ReferenceCache
from proofgate.verify.audit_request import AuditOutput, AuditRequest, Audits
from proofgate.verify.audit_runs import (
    Runner,
    RunResult,
    compile_failure,
    elab_failure,
    killed_by,
    ms_since,
    once_more_if_killed,
)
from proofgate.verify.checker_output import (
    check_agreement,
    checker_argv,
    checker_report,
    parse_checker_output,
    second_opinion,
)
from proofgate.verify.checkers import CheckRequest
from proofgate.verify.contract import CompileFailure, ExportAuditReport
from proofgate.verify.elab_audit import SERVICE_REFUSALS, placed_errors, refusal_failure
from proofgate.verify.export import DEFAULT_LIMITS
from proofgate.verify.warm_audit import (
    EXPORT_FAILED,
    SUBMISSION_EXPORT,
    WarmCheckers,
    exporter_failure,
)

__all__ = [
    "CHECKER_BINARY",
    "AuditOutput",
    "AuditRequest",
    "Auditor",
    "Audits",
    "RunResult",
    "Runner",
    "checker_argv",
    "killed_by",
    "parse_checker_output",
    "second_opinion",
]


class Auditor(ReferenceCache):
    """Runs the audit flow for one settings object; safe to share between concurrent requests."""

    def __init__(
        self, settings: Settings, *, runner: Runner | None = None, spawner: Spawner | None = None
    ) -> None:
        if (problem := audit_settings_problem(settings)) is not None:
            raise ValueError(problem)
        super().__init__(settings, runner=runner, spawner=spawner)
        self._warm = WarmCheckers(settings, self._checker_launch)

    async def prewarm(self, environment: Environment) -> None:
        """With warm checkers, start `environment`'s now (in the background), as the REPL pool
        warms its workers: the first checks then find them imported; with zygotes, those of the
        prewarmed headers too."""
        if self.settings.audit_checker == "warm":
            await self._warm.prewarm(environment)
        if self.settings.audit_compiler == "zygote":
            self._zygotes.prewarm(environment, list(self.settings.prewarm_headers))

    def zygote_stats(self) -> dict[str, int] | None:
        """The zygotes' figures (`Zygotes.stats`), with `audit_compiler=zygote`."""
        return self._zygotes.stats() if self.settings.audit_compiler == "zygote" else None

    async def close(self) -> None:
        """Stop the warm checkers and the zygotes, if any ran."""
        await self._warm.close()
        await self._zygotes.close()

    async def audit(self, request: AuditRequest) -> AuditOutput:
        """Check the request's `code` against its locked `statement` (None: a free compile).

        Returns the checker's report (any outcome: the verdict logic judges it), or the
        `CompileFailure` when the submission does not compile. Raises `SubmissionError` when the
        statement does not compile, and `AuditError` whenever the checker fails to conclude.
        """
        if self.settings.audit_compiler == "zygote":
            return await self._audit_by_child(request)
        _check_request(request)
        environment, statement, target = request.environment, request.statement, request.target
        timings: dict[str, float] = {"compile_statement": 0.0}
        warm = self.settings.audit_checker == "warm"
        elab = self.settings.audit_compiler == "elab"  # implies warm (audit_settings_problem)
        scratch = self.settings.data_dir / "audit" / uuid.uuid4().hex
        source = scratch / SOURCE
        olean = scratch / OLEAN
        export = scratch / SUBMISSION_EXPORT if warm else None
        # The statement's reference and the submission compile side by side: neither reads the
        # other's output, and an uncached reference no longer doubles the audit's time.
        referencing = (
            asyncio.ensure_future(self._timed_reference(environment, statement, warm, timings))
            if statement is not None
            else None
        )
        compiling: asyncio.Future[RunResult] | None = None
        try:
            # The scratch's file work runs in a thread: a loaded filesystem must not stall the loop.
            if elab and export is not None:
                compiling = asyncio.ensure_future(
                    self._elaborate(environment, scratch, request.code, export, "the submission")
                )
            else:
                await asyncio.to_thread(_write_source, source, request.code)
                compiling = asyncio.ensure_future(
                    self._compile(environment, source, olean, what="the submission", export=export)
                )
            if referencing is not None:
                # A statement that does not compile is the answer at once, whatever the
                # submission does; then the submission's outcome, and the reference it needs.
                await asyncio.wait({referencing, compiling}, return_when=asyncio.FIRST_EXCEPTION)
                if referencing.done() and referencing.exception() is not None:
                    await referencing
            compiled = await compiling
            reference = await referencing if referencing is not None else None
            timings["compile_submission"] = float(compiled.duration_ms)
            if elab and export is not None:
                failure = await asyncio.to_thread(
                    elab_failure, compiled, scratch, request.code, what="the submission"
                )
                if failure is not None:
                    return failure
                return await self._warm_audit(request, export, reference, timings)
            if export is not None and compiled.returncode == EXPORT_FAILED:
                return CompileFailure(exporter_failure(compiled.stdout, what="the submission"))
            if compiled.timed_out or compiled.out_of_memory or compiled.returncode != 0:
                return compile_failure(compiled, what="the submission")
            if not olean.is_file():
                raise AuditError(f"the compiler exited 0 but wrote no {olean.name}")
            if export is not None:
                return await self._warm_audit(request, export, reference, timings)
            argv = checker_argv(
                self._checker_command(environment),
                submission=olean,
                challenge=reference,
                target=target,
                allowed_axioms=request.allowed_axioms,
                answer_holes=request.answer_holes,
                module_roots=sorted(environment.module_roots),
            )
            visible = [scratch] + ([reference.parent] if reference else [])
            result = await once_more_if_killed(
                lambda: self._run(
                    self._spec(argv, environment, read_only=visible, writable=[], checker=True)
                ),
                what="the trusted checker",
            )
            second = await self._leanchecker(environment, scratch)
        finally:
            await _cancel(compiling, referencing)
            await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
        timings["checker_process"] = float(result.duration_ms)
        report = checker_report(result)
        check_agreement(report, request)
        if second is not None:
            timings["leanchecker_process"] = float(second.duration_ms)
            report = second_opinion(report, second)
        report.timings_ms.update(timings)
        return report

    # --- a zygote child's check (settings.audit_compiler == "zygote"; verify/zygote_audit.py) --

    async def fresh_check(
        self, request: AuditRequest, *, timeout: float
    ) -> tuple[ReplRun, AuditOutput | None]:
        """`/v1/check` in one elaboration: a zygote child elaborates `request.code` (its reply is
        the feedback, `ReplRun`), and when it has no error a warm checker judges its export
        against the locked statement's reference. The audit's answer is None after an error
        (the feedback says it). Raises as `audit` does, and `ReplError` for the child's time,
        crash or broken reply."""
        _check_request(request)
        environment, statement = request.environment, request.statement
        timings: dict[str, float] = {"compile_statement": 0.0}
        referencing = (
            asyncio.ensure_future(self._timed_reference(environment, statement, True, timings))
            if statement is not None
            else None
        )
        elaborating = asyncio.ensure_future(
            self._zygotes.elaborate(environment, request.code, timeout=timeout)
        )
        scratch = self.settings.data_dir / "audit" / uuid.uuid4().hex
        try:
            if referencing is not None:  # a statement that does not elaborate: the answer at once
                await asyncio.wait({referencing, elaborating}, return_when=asyncio.FIRST_EXCEPTION)
                if referencing.done() and referencing.exception() is not None:
                    await referencing
            made = await elaborating
            run = made.run
            timings["elaborate_submission"] = run.run_ms
            if run.header_failed or run.reply.has_errors:
                return run, None
            if made.refusal is not None:
                code, detail = made.refusal
                if code in SERVICE_REFUSALS:
                    raise AuditError(f"the elaboration refused its request: {code}: {detail}")
                return run, refusal_failure(code, detail, what="the submission")
            if made.export is None:
                return run, CompileFailure(
                    f"the submission's export is over {DEFAULT_LIMITS.bytes} bytes"
                )
            reference = await referencing if referencing is not None else None
            export = scratch / SUBMISSION_EXPORT
            await asyncio.to_thread(_write_export, export, made.export)
            return run, await self._warm_audit(request, export, reference, timings)
        finally:
            await _cancel(elaborating, referencing)
            await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)

    async def _audit_by_child(self, request: AuditRequest) -> AuditOutput:
        """`audit` with zygotes, for a caller with feedback of its own (triage's probes): the
        child's errors are the text's failure, as a compile's are."""
        timeout = self.settings.audit_timeout
        try:
            run, output = await self.fresh_check(request, timeout=timeout)
        except ReplTimeout:
            return CompileFailure(
                f"elaborating the submission took over {timeout:g} s", timed_out=True
            )
        except ReplError as exc:
            raise AuditError(f"elaborating the submission failed: {exc}") from exc
        if output is None:  # an error (or the header's) in the child's reply
            return CompileFailure(
                "the submission does not elaborate", messages=placed_errors(run.reply)
            )
        return output

    # --- the warm path (settings.audit_checker == "warm"; proofgate.verify.warm_audit) ---------

    async def _warm_audit(
        self,
        request: AuditRequest,
        export: Path,
        reference: Path | None,
        timings: dict[str, float],
    ) -> ExportAuditReport | CompileFailure:
        """Ask a warm checker about the submission's export (written by its compile's jail) and
        the reference's."""
        environment = request.environment
        if not export.is_file():
            raise AuditError(f"the compile and export exited 0 but wrote no {export.name}")
        reference_export = None
        if reference is not None:
            reference_export = await self.reference_export(environment, reference)
        check = CheckRequest(
            submission=export,
            reference=reference_export,
            target=request.target,
            axioms=request.allowed_axioms,
            answer_holes=request.answer_holes,
            module_roots=tuple(sorted(environment.module_roots)),
        )
        started = time.monotonic()
        result = await self._warm.check(environment, check)
        timings["warm_check"] = ms_since(started)
        if isinstance(result, ExportAuditReport):
            check_agreement(result, request)
            result.timings_ms.update(timings)
        return result


def _check_request(request: AuditRequest) -> None:
    """A statement comes with its target, and answer holes with a statement."""
    if (request.statement is None) != (request.target is None):
        raise SubmissionError("give both a statement and its target, or neither", field="target")
    if request.statement is None and request.answer_holes:
        raise SubmissionError("answer holes need a statement", field="answer_holes")


def _write_export(export: Path, data: bytes) -> None:
    """A fresh scratch directory holding a child's export, for the warm checkers to read."""
    export.parent.mkdir(parents=True)
    export.write_bytes(data)


def _write_source(source: Path, code: str) -> None:
    """A fresh scratch directory holding the text to compile."""
    source.parent.mkdir(parents=True)
    source.write_text(code, encoding="utf-8")


async def _cancel(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel what is still running of an audit that ended early, and outwait it: no compile
    outlives its audit (a jail's release is part of the task)."""
    for task in tasks:  # one that failed after another's failure ended the audit: seen here
        if task is not None and task.done() and not task.cancelled():
            task.exception()
    running = [task for task in tasks if task is not None and not task.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
