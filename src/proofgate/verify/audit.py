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
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shlex
import shutil
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from proofgate.config import Settings, audit_settings_problem
from proofgate.environments.registry import Environment
from proofgate.environments.toolchain import lean_home_for
from proofgate.exceptions import (
    AuditError,
    NotReady,
    SpawnFailed,
    SubmissionError,
)
from proofgate.lean.launch import (
    lean_environment,
    lean_process_cap,
    lean_thread_args,
    process_cap,
)
from proofgate.logs import get_logger
from proofgate.sandbox.process import Limits, Spawner, SpawnSpec
from proofgate.verify.checkers import CheckRequest
from proofgate.verify.contract import (
    CONTRACT_VERSION,
    EXPORT_CONTRACT_VERSION,
    STATEMENT_OUTCOMES,
    AuditOutcome,
    AuditReport,
    CompileFailure,
    ExportAuditReport,
    ReportError,
    parse_report,
)
from proofgate.verify.elab_audit import (
    ELAB_BINARY,
    ELAB_REPLY,
    ELAB_REQUEST,
    SERVICE_REFUSALS,
    elab_argv,
    elab_refusal,
    refusal_failure,
    reply_errors,
    write_request,
)
from proofgate.verify.warm_audit import (
    EXPORT_FAILED,
    EXPORTER_BINARY,
    REFERENCE_EXPORT,
    SUBMISSION_EXPORT,
    WarmCheckers,
    checker_imports,
    compile_and_export,
    exporter_argv,
    exporter_failure,
)

__all__ = [
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

_log = get_logger("proofgate.audit")

#: The checker's executable inside an environment's Lake build directory.
CHECKER_BINARY = Path(".lake/build/bin/proofgate-checker")
#: The module name the locked statement and the submission are both compiled as, each alone in a
#: directory of its own that is its `-R` root (Lean derives the name from the path under the root,
#: and refuses a file outside it). One name for both, so that a `private` declaration of the
#: statement (`_private.ProofgateSubmission.0.x`) is the same constant in the submission; a name no
#: package on the search path uses (not `Main`), and never the random directory the file sits in.
MODULE = "ProofgateSubmission"
SOURCE = f"{MODULE}.lean"
OLEAN = f"{MODULE}.olean"
#: How the second replay is named in verdicts.
LEANCHECKER = "leanchecker"
#: leanchecker's messages when it could not load the module at all (not a kernel opinion): its
#: own `Could not find any oleans for`, and `findOLean`'s / `readModuleData`'s failures.
_LEANCHECKER_LOAD_FAILURES = ("Could not find any oleans", "does not exist", "failed to read file")
#: The checker outcomes reached after the kernel accepted every replayed declaration.
_KERNEL_ACCEPTED = STATEMENT_OUTCOMES | {AuditOutcome.ok}
#: Largest stdout (or stderr) kept from a compile or the checker; more is a broken run.
MAX_OUTPUT = 16 << 20
#: Tail of stderr quoted in an AuditError.
STDERR_TAIL = 2_000
#: bwrap (like a shell) reports a child killed by signal N as exit status 128+N.
SIGNAL_EXIT = 128
MAX_SIGNAL = 64


class RunResult(Protocol):
    """What one jailed run came to (`proofgate.sandbox.JailedResult` has this shape)."""

    @property
    def returncode(self) -> int | None: ...
    @property
    def stdout(self) -> bytes: ...
    @property
    def stderr(self) -> bytes: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def out_of_memory(self) -> bool: ...
    @property
    def duration_ms(self) -> int | float: ...
    @property
    def output_truncated(self) -> bool: ...
    @property
    def limit_exceeded(self) -> str | None: ...


#: `proofgate.sandbox.run_jailed`'s signature: one program run to completion in a jail.
Runner = Callable[..., Awaitable[RunResult]]


@dataclass(frozen=True)
class AuditRequest:
    """One audit: does `code` prove `target`, the last theorem of the locked `statement`, using only
    `allowed_axioms` (and filling `answer_holes`)? Without a statement (and target): a free compile,
    whose declarations may use only `allowed_axioms`."""

    environment: Environment
    statement: str | None
    code: str
    target: str | None
    answer_holes: tuple[str, ...] = ()
    allowed_axioms: tuple[str, ...] = ()


class Audits(Protocol):
    """What a service audits with: an `Auditor`, or a stand-in (`proofgate bench`'s simulated one)."""

    async def audit(
        self, request: AuditRequest
    ) -> AuditReport | ExportAuditReport | CompileFailure: ...


#: What one audit comes to: a checker's report (contract 1 or 2), or the submission's failure.
AuditOutput = AuditReport | ExportAuditReport | CompileFailure


class Auditor:
    """Runs the audit flow for one settings object; safe to share between concurrent requests."""

    def __init__(
        self, settings: Settings, *, runner: Runner | None = None, spawner: Spawner | None = None
    ) -> None:
        if (problem := audit_settings_problem(settings)) is not None:
            raise ValueError(problem)
        self.settings = settings
        self._runner = runner
        self._spawner = spawner
        self._reference_locks: dict[str, asyncio.Lock] = {}
        self._warm = WarmCheckers(settings, self._checker_launch)

    async def prewarm(self, environment: Environment) -> None:
        """With warm checkers, start `environment`'s now (in the background), as the REPL pool
        warms its workers: the first checks then find them imported."""
        if self.settings.audit_checker == "warm":
            await self._warm.prewarm(environment)

    async def close(self) -> None:
        """Stop the warm checkers, if any ran."""
        await self._warm.close()

    async def audit(self, request: AuditRequest) -> AuditOutput:
        """Check the request's `code` against its locked `statement` (None: a free compile).

        Returns the checker's report (any outcome: the verdict logic judges it), or the
        `CompileFailure` when the submission does not compile. Raises `SubmissionError` when the
        statement does not compile, and `AuditError` whenever the checker fails to conclude.
        """
        environment, statement, target = request.environment, request.statement, request.target
        if (statement is None) != (target is None):
            raise SubmissionError(
                "give both a statement and its target, or neither", field="target"
            )
        if statement is None and request.answer_holes:
            raise SubmissionError("answer holes need a statement", field="answer_holes")
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
                    _elab_failure, compiled, scratch, request.code, what="the submission"
                )
                if failure is not None:
                    return failure
                return await self._warm_audit(request, export, reference, timings)
            if export is not None and compiled.returncode == EXPORT_FAILED:
                return CompileFailure(exporter_failure(compiled.stdout, what="the submission"))
            if compiled.timed_out or compiled.out_of_memory or compiled.returncode != 0:
                return _compile_failure(compiled, what="the submission")
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
            result = await _once_more_if_killed(
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
        report = _checker_report(result)
        _check_agreement(report, request)
        if second is not None:
            timings["leanchecker_process"] = float(second.duration_ms)
            report = second_opinion(report, second)
        report.timings_ms.update(timings)
        return report

    async def _timed_reference(
        self, environment: Environment, statement: str, export: bool, timings: dict[str, float]
    ) -> Path:
        started = time.monotonic()
        try:
            return await self.reference(environment, statement, export=export)
        finally:
            timings["compile_statement"] = _ms_since(started)

    async def reference(
        self, environment: Environment, statement: str, *, export: bool = False
    ) -> Path:
        """The locked statement's trusted .olean, compiled once and then read from the cache;
        with `export`, a new one is exported in the same jail (`reference_export` makes the
        export of one cached before)."""
        if self.settings.audit_compiler == "elab":
            return await self._elab_reference(environment, statement)
        key = self.reference_key(environment, statement)
        final = self.settings.data_dir / "references" / key
        lock = self._reference_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if (final / "reference.json").is_file() and (final / OLEAN).is_file():
                return final / OLEAN
            building = final.parent / f".building-{key[:16]}-{uuid.uuid4().hex[:8]}"
            building.mkdir(parents=True)
            try:
                source = building / SOURCE
                source.write_text(statement, encoding="utf-8")
                compiled = await self._compile(
                    environment,
                    source,
                    building / OLEAN,
                    what="the locked statement",
                    export=building / REFERENCE_EXPORT if export else None,
                )
                if export and compiled.returncode == EXPORT_FAILED:
                    raise AuditError(exporter_failure(compiled.stdout, what="the locked statement"))
                if compiled.timed_out or compiled.out_of_memory:
                    raise AuditError(
                        "compiling the locked statement ran out of time or memory: raise "
                        "PROOFGATE_AUDIT_TIMEOUT / PROOFGATE_MEMORY_LIMIT_MB, or check the machine"
                    )
                if compiled.returncode != 0 or not (building / OLEAN).is_file():
                    failure = _compile_failure(compiled, what="the locked statement")
                    raise SubmissionError(
                        f"the locked statement does not compile in environment "
                        f"{environment.name!r}; fix the statement (not the proof): "
                        + "; ".join(failure.messages[:5] or [failure.output[-STDERR_TAIL:]]),
                        field="statement",
                    )
                meta = {"environment": environment.describe(), "compile_ms": compiled.duration_ms}
                (building / "reference.json").write_text(json.dumps(meta), encoding="utf-8")
                try:
                    building.rename(final)
                except OSError:
                    if not (final / "reference.json").is_file():  # not a lost race: a real problem
                        raise
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return final / OLEAN

    def reference_key(self, environment: Environment, statement: str) -> str:
        """Hash of everything a reference .olean (or, with the elaborator, export) depends on."""
        payload: dict[str, object] = {
            "statement": statement,
            "environment": environment.describe(),
            "directory": str(environment.directory),
            "compile_command": self.settings.compile_command,
            "module": MODULE,
        }
        if self.settings.audit_compiler == "elab":  # another program makes it: another entry
            payload |= {"compiler": "elab", "elab_command": self.settings.elab_command}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

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
        timings["warm_check"] = _ms_since(started)
        if isinstance(result, ExportAuditReport):
            _check_agreement(result, request)
            result.timings_ms.update(timings)
        return result

    async def reference_export(self, environment: Environment, reference: Path) -> Path:
        """The export of a cached reference .olean: made with it in warm mode; for a reference
        cached before, made once beside it in a jail of its own (same lock as the .olean: one
        export per statement, however many checks wait for it)."""
        export = reference.parent / REFERENCE_EXPORT
        lock = self._reference_locks.setdefault(reference.parent.name, asyncio.Lock())
        async with lock:
            if export.is_file():
                return export
            partial = reference.parent / f".{REFERENCE_EXPORT}.{uuid.uuid4().hex[:8]}"
            try:
                exported = await self._export(environment, reference, partial)
                if exported.timed_out or exported.out_of_memory or exported.returncode != 0:
                    reason = exporter_failure(exported.stdout, what="the locked statement")
                    raise AuditError(f"{reason} (exit {exported.returncode})")
                if not partial.is_file():
                    raise AuditError(f"the exporter exited 0 but wrote no {export.name}")
                partial.rename(export)
            finally:
                partial.unlink(missing_ok=True)
        return export

    async def _export(self, environment: Environment, olean: Path, out: Path) -> RunResult:
        """`proofgate-export` on a cached reference .olean (new ones are exported by their
        compile's jail), jailed like a compile, its output in the .olean's directory."""
        argv = self._exporter_argv(environment, olean=olean, out=out)
        return await _once_more_if_killed(
            lambda: self._run(
                self._spec(argv, environment, read_only=[], writable=[olean.parent], checker=False)
            ),
            what="the exporter",
        )

    def _exporter_argv(self, environment: Environment, *, olean: Path, out: Path) -> list[str]:
        """The exporter's argv for this audit's module: the configured command, or the
        environment's own binary."""
        if self.settings.export_command is not None:
            command = shlex.split(self.settings.export_command)
        else:
            command = ["lake", "env", str(environment.directory / EXPORTER_BINARY)]
        return exporter_argv(command, olean=olean, module=MODULE, out=out, environment=environment)

    def _checker_launch(self, environment: Environment) -> tuple[Spawner, SpawnSpec, Limits]:
        """How one environment's warm checkers start: `CHECKER --serve`, jailed like the one-shot
        checker, reading the audit's scratch directories and the references (read-only)."""
        scratch_root = self.settings.data_dir / "audit"
        references = self.settings.data_dir / "references"
        for directory in (scratch_root, references):
            directory.mkdir(parents=True, exist_ok=True)
        # the environment imported once: the modules of the headers the service prewarms
        imports = [
            a for m in checker_imports(self.settings.prewarm_headers) for a in ("--import", m)
        ]
        spec, limits = self._spec(
            [*self._checker_command(environment), "--serve", *imports],
            environment,
            read_only=[scratch_root, references],
            writable=[],
            checker=True,
        )
        return self._process_runner()[1], spec, limits

    # --- the one-shot elaborator (settings.audit_compiler == "elab"; verify/elab_audit.py) ---

    async def _elab_reference(self, environment: Environment, statement: str) -> Path:
        """The locked statement's export, made once by a `proofgate-elab` run of its own and then
        read from the cache (beside its `reference.json`, under the statement's lock). A statement
        that does not elaborate is the statement's fault (`SubmissionError`); a run out of time
        or memory, or refused, the service's (`AuditError`)."""
        key = self.reference_key(environment, statement)
        final = self.settings.data_dir / "references" / key
        lock = self._reference_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if (final / "reference.json").is_file() and (final / REFERENCE_EXPORT).is_file():
                return final / REFERENCE_EXPORT
            building = final.parent / f".building-{key[:16]}-{uuid.uuid4().hex[:8]}"
            try:
                run = await self._elaborate(
                    environment, building, statement, building / REFERENCE_EXPORT, "the statement"
                )
                if run.timed_out or run.out_of_memory:
                    raise AuditError(
                        "elaborating the locked statement ran out of time or memory: raise "
                        "PROOFGATE_AUDIT_TIMEOUT / PROOFGATE_MEMORY_LIMIT_MB, or check the machine"
                    )
                refusal = elab_refusal(run.stdout) if run.returncode == 1 else None
                if refusal is not None and refusal[0] != "elaboration_failed":
                    raise AuditError(
                        f"the locked statement could not be exported: {refusal[0]}: {refusal[1]}"
                    )
                failure = await asyncio.to_thread(
                    _elab_failure, run, building, statement, what="the locked statement"
                )
                if failure is None and not (building / REFERENCE_EXPORT).is_file():
                    raise AuditError(f"proofgate-elab exited 0 but wrote no {REFERENCE_EXPORT}")
                if failure is not None:
                    raise SubmissionError(
                        f"the locked statement does not compile in environment "
                        f"{environment.name!r}; fix the statement (not the proof): "
                        + "; ".join(failure.messages[:5] or [failure.reason]),
                        field="statement",
                    )
                for run_file in (ELAB_REQUEST, ELAB_REPLY):  # the entry: its export and record
                    (building / run_file).unlink(missing_ok=True)
                meta = {"environment": environment.describe(), "compile_ms": run.duration_ms}
                (building / "reference.json").write_text(json.dumps(meta), encoding="utf-8")
                try:
                    building.rename(final)
                except OSError:
                    if not (final / "reference.json").is_file():  # not a lost race: a real problem
                        raise
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return final / REFERENCE_EXPORT

    async def _elaborate(
        self, environment: Environment, directory: Path, code: str, export: Path, what: str
    ) -> RunResult:
        """One `proofgate-elab` run on `code` in the fresh `directory` (its only writable path),
        jailed and limited as a compile; killed from outside, run once more."""
        request = await asyncio.to_thread(write_request, directory, code)
        reply = directory / ELAB_REPLY
        if self.settings.elab_command is not None:
            command = shlex.split(self.settings.elab_command)
        else:
            binary = environment.directory / ELAB_BINARY
            if not binary.is_file():  # else `lake env` fails, which would read as the text's fault
                raise AuditError(
                    f"proofgate-elab is not built in {environment.directory}: run `lake build "
                    "proofgate-elab` there (PROOFGATE_AUDIT_COMPILER=elab)"
                )
            command = ["lake", "env", str(binary)]
        argv = elab_argv(
            command, request=request, reply=reply, export=export, environment=environment
        )

        async def elaborate_once() -> RunResult:
            for path in (reply, export):  # nothing a killed run left behind is read
                path.unlink(missing_ok=True)
            return await self._run(
                self._spec(argv, environment, read_only=[], writable=[directory], checker=False)
            )

        return await _once_more_if_killed(elaborate_once, what=f"elaborating {what}")

    # --- processes ----------------------------------------------------------------------------

    async def _compile(
        self,
        environment: Environment,
        source: Path,
        olean: Path,
        *,
        what: str,
        export: Path | None = None,
    ) -> RunResult:
        """`lean -j N -D... --json -R DIR -o OLEAN DIR/ProofgateSubmission.lean`, DIR writable:
        the thread count and the environment's options alike for statement and submission; the
        module is `ProofgateSubmission` wherever DIR is (without `-R` the root is the working
        directory, the environment's, and Lean refuses a file outside it). A compile killed from
        outside is run once more; killed again, it is an `AuditError` (`_once_more_if_killed`)."""
        argv = [
            *shlex.split(self.settings.compile_command),
            *lean_thread_args(self.settings),
            *environment.option_args(),
            "--json",
            "-R",
            str(source.parent),
            "-o",
            str(olean),
            str(source),
        ]
        if export is not None:  # then the exporter, in the same jail (compile_and_export)
            exporter = self._exporter_argv(environment, olean=olean, out=export)
            argv = compile_and_export(argv, exporter)

        async def compile_once() -> RunResult:
            olean.unlink(missing_ok=True)  # nothing a killed run left behind is read
            if export is not None:
                export.unlink(missing_ok=True)
            return await self._run(
                self._spec(argv, environment, read_only=[], writable=[source.parent], checker=False)
            )

        return await _once_more_if_killed(compile_once, what=f"compiling {what}")

    async def _leanchecker(self, environment: Environment, scratch: Path) -> RunResult | None:
        """`leanchecker ProofgateSubmission` with the scratch directory on `LEAN_PATH` (`lake env`
        puts its own paths first and keeps the caller's), jailed like the checker; None when
        the setting is off. leanchecker takes module names, not files, and, without `--fresh`,
        replays only the module's own constants on top of its imports (`--fresh` would re-check
        all of Mathlib)."""
        if not self.settings.leanchecker:
            return None
        argv = [*shlex.split(self.settings.leanchecker_command), MODULE]
        return await _once_more_if_killed(
            lambda: self._run(
                self._spec(
                    argv,
                    environment,
                    read_only=[scratch],
                    writable=[],
                    checker=True,
                    extra_env={"LEAN_PATH": str(scratch)},
                )
            ),
            what=LEANCHECKER,
        )

    def _checker_command(self, environment: Environment) -> list[str]:
        if self.settings.checker_command is not None:
            return shlex.split(self.settings.checker_command)
        return ["lake", "env", str(environment.directory / CHECKER_BINARY)]

    async def _run(self, jail: tuple[SpawnSpec, Limits]) -> RunResult:
        """One audit process (`_spec`'s jail) run to completion under the audit's timeout."""
        spec, limits = jail
        runner, spawner = self._process_runner()
        try:
            return await runner(
                spawner, spec, limits, timeout=self.settings.audit_timeout, max_output=MAX_OUTPUT
            )
        except (OSError, SpawnFailed) as exc:  # the sandbox's own error: a failed exec or jail
            raise AuditError(f"could not start {spec.argv[0]}: {exc}") from exc

    def _spec(
        self,
        argv: list[str],
        environment: Environment,
        *,
        read_only: list[Path],
        writable: list[Path],
        checker: bool,
        extra_env: dict[str, str] | None = None,
    ) -> tuple[SpawnSpec, Limits]:
        """The jail of one audit process: the toolchain and the environment read-only, the
        thread count, and for a checker a panic that ends the run."""
        settings = self.settings
        # the environment's own Lean home (PROOFGATE_LEAN_HOME is `default`'s only), then elan's
        home = lean_home_for(settings, environment)
        toolchain = [p for p in (home, settings.elan_home) if p and p.is_dir()]
        env = lean_environment(
            settings,
            bin_dirs=[p / "bin" for p in toolchain],
            elan_home=settings.elan_home if settings.elan_home in toolchain else None,
        )
        if checker:
            env["LEAN_ABORT_ON_PANIC"] = (
                "1"  # a panic on hostile input ends the run, never continues
            )
        env.update(extra_env or {})
        spec = SpawnSpec(
            argv=argv,
            cwd=environment.directory,
            env=env,
            read_only=(environment.directory, *toolchain, *read_only),
            writable=tuple(writable),
        )
        limits = Limits(
            memory_bytes=settings.memory_limit_mb * 2**20,
            max_processes=lean_process_cap(settings) if checker else process_cap(settings),
        )
        return spec, limits

    def _process_runner(self) -> tuple[Runner, Spawner]:
        """The injected runner, else the sandbox's `run_jailed` with the configured jail."""
        if self._runner is None or self._spawner is None:
            try:
                from proofgate.sandbox import run_jailed, select_spawner
            except ImportError as exc:  # pragma: no cover - the sandbox ships with proofgate
                raise NotReady(
                    f"the sandbox runner is unavailable ({exc}): reinstall proofgate"
                ) from exc
            if self._runner is None:
                self._runner = run_jailed
            if self._spawner is None:
                self._spawner = select_spawner(self.settings)
        return self._runner, self._spawner


def checker_argv(
    command: list[str],
    *,
    submission: Path,
    challenge: Path | None,
    target: str | None,
    allowed_axioms: Sequence[str],
    answer_holes: Sequence[str],
    module_roots: Sequence[str],
) -> list[str]:
    """The checker's command line (docs/checker-contract.md, "Inputs")."""
    argv = [*command, "--submission", str(submission)]
    if challenge is not None and target is not None:
        argv += ["--challenge", str(challenge), "--target", target]
    for flag, values in (
        ("--axiom", allowed_axioms),
        ("--answer-hole", answer_holes),
        ("--module-root", module_roots),
    ):
        for value in values:
            argv += [flag, value]
    return argv


def parse_checker_output(stdout: bytes) -> AuditReport:
    """Exactly one JSON object of contract 1, by `contract.parse_report`'s rules (no extra,
    missing or duplicate fields, no NaN, nothing after it)."""
    try:
        report = parse_report(stdout)
    except ReportError as exc:
        raise AuditError(str(exc)) from exc
    if not isinstance(report, AuditReport):
        raise AuditError(
            f"the one-shot checker answered in contract {report.contract}, not "
            f"{CONTRACT_VERSION}: rebuild it (`lake build proofgate-checker`)"
        )
    return report


def _checker_report(result: RunResult) -> AuditReport:
    """The report of a finished checker run; every other ending is an AuditError."""
    stderr = result.stderr.decode("utf-8", "replace")[-STDERR_TAIL:]
    if result.timed_out:
        raise AuditError(f"the checker did not finish in time (after {result.duration_ms} ms)")
    if result.out_of_memory:
        raise AuditError("the checker went over its memory cap: raise PROOFGATE_MEMORY_LIMIT_MB")
    if result.output_truncated:
        raise AuditError(f"the checker printed more than {MAX_OUTPUT} bytes")
    if result.limit_exceeded == "processes":
        raise AuditError("the checker went over its process cap")
    if result.returncode != 0:
        raise AuditError(f"the checker exited with {result.returncode}: {stderr.strip()}")
    return parse_checker_output(result.stdout)


def _check_agreement(report: AuditReport | ExportAuditReport, request: AuditRequest) -> None:
    """Refuse a report that does not answer the question asked (AuditError)."""
    environment, target = request.environment, request.target
    contract = (
        EXPORT_CONTRACT_VERSION if isinstance(report, ExportAuditReport) else CONTRACT_VERSION
    )
    if report.contract != contract:
        raise AuditError(
            f"checker speaks contract {report.contract}, proofgate {contract}: rebuild it "
            "(`lake build proofgate-checker`)"
        )
    if report.target != target:
        raise AuditError(f"the checker answered about {report.target!r}, not {target!r}")
    if report.lean != environment.lean_version:
        raise AuditError(
            f"the checker was built with Lean {report.lean}, the environment pins "
            f"{environment.lean_version}: rebuild it in {environment.directory}"
        )
    if report.outcome is not AuditOutcome.ok:
        return
    allowed = set(request.allowed_axioms)
    theorems = {d.name: d for d in report.declarations if d.kind == "theorem" and d.replayed}
    if target is None:
        expected = {a for d in theorems.values() for a in d.axioms if a not in allowed}
    else:
        if target not in theorems:
            raise AuditError(f"the checker said ok but lists no replayed theorem {target}")
        if set(theorems[target].axioms) != set(report.target_axioms):
            raise AuditError("the checker's target axioms disagree with its declaration list")
        if set(report.answers) != set(request.answer_holes):
            raise AuditError(
                f"the checker reported answers {sorted(report.answers)}, "
                f"not {sorted(request.answer_holes)}"
            )
        expected = {a for a in report.target_axioms if a not in allowed}
    if set(report.disallowed_axioms) != expected:
        raise AuditError(
            f"the checker judged the axioms {sorted(report.disallowed_axioms)} disallowed, "
            f"proofgate {sorted(expected)}"
        )


def second_opinion(report: AuditReport, result: RunResult) -> AuditReport:
    """The checker's report, judged against leanchecker's replay of the same module.

    leanchecker accepts (exit 0) or refuses (another exit, the kernel's message on stderr) the
    module's constants. It agrees when the checker's outcome says the same of the kernel. A
    checker `ok` that leanchecker refuses is an `AuditError` naming leanchecker (`internal`,
    never `proved`); any other disagreement keeps the checker's (already failing) outcome and
    puts leanchecker's word first in its `detail`. A leanchecker that did not finish, or could
    not load the module, is an `AuditError` too: the option asked for its opinion."""
    stderr = result.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
    if result.timed_out or result.out_of_memory or getattr(result, "output_truncated", False):
        raise AuditError(f"{LEANCHECKER} (the second replay) did not finish: {_exit_text(result)}")
    if result.returncode != 0 and any(text in stderr for text in _LEANCHECKER_LOAD_FAILURES):
        raise AuditError(f"{LEANCHECKER} (the second replay) could not load the module: {stderr}")
    accepted = result.returncode == 0
    if report.outcome is AuditOutcome.replay_failed:
        checker_accepted = False
    elif report.outcome in _KERNEL_ACCEPTED:
        checker_accepted = True
    else:
        return report  # refused before any replay (imports, unreadable): nothing to compare
    if accepted == checker_accepted:
        return report
    if checker_accepted and report.outcome is AuditOutcome.ok:
        raise AuditError(
            f"{LEANCHECKER} disagrees with proofgate-checker: the checker replayed the submission, "
            f"{LEANCHECKER} refused it ({_exit_text(result)}): {stderr}"
        )
    if accepted:
        word = (
            f"{LEANCHECKER} disagrees: it accepted the module (it replays the .olean as written, "
            "without rebuilding its terms)"
        )
    else:
        word = f"{LEANCHECKER} disagrees: it refused the module ({stderr[-300:]})"
    return report.model_copy(update={"detail": f"{word}; {report.detail}"})


def killed_by(result: RunResult) -> int | None:
    """The signal that ended `result` when the service did not end it itself (its timeout, a cap
    the cgroup or the watchdog recorded: memory or processes, its output cap): an infrastructure
    kill. A process killed by signal N shows as -N when it is our child, and as 128+N through
    bwrap."""
    if (
        result.timed_out
        or result.out_of_memory
        or result.output_truncated
        or result.limit_exceeded is not None
    ):
        return None
    code = result.returncode
    if code is None or code == 0:
        return None
    if code < 0:
        return -code
    if SIGNAL_EXIT < code <= SIGNAL_EXIT + MAX_SIGNAL:
        return code - SIGNAL_EXIT
    return None


def _exit_text(result: RunResult) -> str:
    number = killed_by(result)
    try:
        name = signal.Signals(number).name if number is not None else ""
    except ValueError:
        name = f"signal {number}"
    return f"exit {result.returncode} ({name})" if name else f"exit {result.returncode}"


async def _once_more_if_killed(run: Callable[[], Awaitable[RunResult]], *, what: str) -> RunResult:
    """`run()`, and once more on a fresh process when a signal the service did not send ended it.
    Killed from outside twice: `AuditError` (the verdict is `internal`, never cached), naming both
    exits. A kill is not the proof's outcome, so it is never turned into `failed`."""
    first = await run()
    if killed_by(first) is None:
        return first
    _log.warning("audit_process_killed", what=what, exit=first.returncode, retry=True)
    second = await run()
    if killed_by(second) is None:
        return second
    raise AuditError(
        f"{what} was killed from outside twice ({_exit_text(first)}, then {_exit_text(second)}), "
        "neither by the service's timeout nor for memory: the service's fault, not the proof's"
    )


def _compile_failure(result: RunResult, *, what: str) -> CompileFailure:
    """Lean's messages (from `--json` lines, else the raw text) as a `CompileFailure`."""
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    messages: list[str] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            messages.append(line)
            continue
        if not isinstance(message, dict):
            messages.append(line)
        elif message.get("severity") == "error":
            pos = message.get("pos") or {}
            messages.append(
                f"{pos.get('line', '?')}:{pos.get('column', '?')}: {message.get('data', '')}"
            )
    if stderr.strip():
        messages.append(stderr.strip()[-STDERR_TAIL:])
    if result.timed_out:
        summary = f"compiling {what} timed out"
    elif result.out_of_memory:
        summary = f"compiling {what} went over the memory cap"
    elif result.limit_exceeded == "processes":
        summary = f"compiling {what} went over the process cap"
    else:
        summary = f"{what} does not compile (exit {result.returncode})"
    return CompileFailure(
        summary,
        messages=messages,
        output=(stdout + stderr)[-MAX_OUTPUT:],
        timed_out=result.timed_out,
        out_of_memory=result.out_of_memory,
    )


def _elab_failure(
    result: RunResult, directory: Path, code: str, *, what: str
) -> CompileFailure | None:
    """What a `proofgate-elab` run on `code` says of it (verify/elab_audit.py): None when it
    elaborated without an error (its export is then read), else the text's `CompileFailure`;
    an `AuditError` when the run or its reply is the service's problem."""
    if result.timed_out or result.out_of_memory or result.limit_exceeded is not None:
        return _compile_failure(result, what=what)
    if result.returncode == 1 and (refusal := elab_refusal(result.stdout)) is not None:
        kind, detail = refusal
        if kind in SERVICE_REFUSALS:
            raise AuditError(f"proofgate-elab refused its request ({kind}): {detail}")
        return refusal_failure(kind, detail, what=what)
    if result.returncode != 0:
        return _compile_failure(result, what=what)
    errors = reply_errors(directory / ELAB_REPLY, code)
    if errors:
        return CompileFailure(f"{what} does not compile", messages=errors)
    return None


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _write_source(source: Path, code: str) -> None:
    """A fresh scratch directory holding the text to compile."""
    source.parent.mkdir(parents=True)
    source.write_text(code, encoding="utf-8")


async def _cancel(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel what is still running of an audit that ended early, and outwait it: no compile
    outlives its audit (a jail's release is part of the task)."""
    running = [task for task in tasks if task is not None and not task.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
