"""The locked statement's reference: compiled (or elaborated) once per (statement, environment)
and then read from the cache.

The cache: `DATA_DIR/references/<reference_key>/`, holding `reference.json` (the environment and
the compile's time) beside `ProofgateSubmission.olean` (`lean`), its export `REFERENCE_EXPORT`
(warm, made with it or later by `reference_export`), or only the export (`elab`: a
`proofgate-elab` run of its own; `zygote`: a zygote child of its own, never a pooled worker). An
entry is built in a `.building-*` directory beside it and renamed into place, under the
statement's lock (`_entry`); a statement that does not compile is the statement's fault
(`SubmissionError`), never cached."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError, ReplError, SubmissionError
from proofgate.sandbox.process import Spawner
from proofgate.verify.audit_processes import MODULE, OLEAN, SOURCE, AuditProcesses
from proofgate.verify.audit_runs import (
    STDERR_TAIL,
    Runner,
    compile_failure,
    elab_failure,
    ms_since,
)
from proofgate.verify.elab_audit import ELAB_REPLY, ELAB_REQUEST, elab_refusal, placed_errors
from proofgate.verify.warm_audit import EXPORT_FAILED, REFERENCE_EXPORT, exporter_failure

__all__ = ["ReferenceCache"]


class ReferenceCache(AuditProcesses):
    """The audit's processes, and the cache of the references they make."""

    def __init__(
        self, settings: Settings, *, runner: Runner | None = None, spawner: Spawner | None = None
    ) -> None:
        super().__init__(settings, runner=runner, spawner=spawner)
        self._reference_locks: dict[str, asyncio.Lock] = {}

    async def _timed_reference(
        self, environment: Environment, statement: str, export: bool, timings: dict[str, float]
    ) -> Path:
        started = time.monotonic()
        try:
            return await self.reference(environment, statement, export=export)
        finally:
            timings["compile_statement"] = ms_since(started)

    async def reference(
        self, environment: Environment, statement: str, *, export: bool = False
    ) -> Path:
        """The locked statement's trusted .olean, compiled once and then read from the cache;
        with `export`, a new one is exported in the same jail (`reference_export` makes the
        export of one cached before)."""
        if self.settings.audit_compiler == "elab":
            return await self._elab_reference(environment, statement)
        if self.settings.audit_compiler == "zygote":
            return await self._zygote_reference(environment, statement)

        async def build(building: Path) -> float:
            building.mkdir(parents=True)
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
                failure = compile_failure(compiled, what="the locked statement")
                raise _statement_fails(
                    environment, failure.messages[:5] or [failure.output[-STDERR_TAIL:]]
                )
            return compiled.duration_ms

        return await self._entry(environment, statement, OLEAN, build)

    async def _entry(
        self,
        environment: Environment,
        statement: str,
        name: str,
        build: Callable[[Path], Awaitable[float]],
    ) -> Path:
        """The file `name` of the statement's cache entry: read from the cache, else made once
        (under the statement's lock, however many checks wait for it) by `build(building)`,
        which fills the directory `building` (it makes it) and returns the milliseconds it took;
        then published. Nothing of a failed build stays."""
        key = self.reference_key(environment, statement)
        final = self.settings.data_dir / "references" / key
        lock = self._reference_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if (final / "reference.json").is_file() and (final / name).is_file():
                return final / name
            building = final.parent / f".building-{key[:16]}-{uuid.uuid4().hex[:8]}"
            try:
                compile_ms = await build(building)
                _publish(building, final, environment, compile_ms=compile_ms)
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return final / name

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
        if self.settings.audit_compiler == "zygote":
            payload |= {"compiler": "zygote", "zygote_command": self.settings.zygote_command}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

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

    # --- the one-shot elaborator's reference (settings.audit_compiler == "elab") --------------

    async def _elab_reference(self, environment: Environment, statement: str) -> Path:
        """The locked statement's export, made once by a `proofgate-elab` run of its own and then
        read from the cache (beside its `reference.json`, under the statement's lock). A statement
        that does not elaborate is the statement's fault (`SubmissionError`); a run out of time
        or memory, or refused, the service's (`AuditError`)."""

        async def build(building: Path) -> float:
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
                elab_failure, run, building, statement, what="the locked statement"
            )
            if failure is None and not (building / REFERENCE_EXPORT).is_file():
                raise AuditError(f"proofgate-elab exited 0 but wrote no {REFERENCE_EXPORT}")
            if failure is not None:
                raise _statement_fails(environment, failure.messages[:5] or [failure.reason])
            for run_file in (ELAB_REQUEST, ELAB_REPLY):  # the entry: its export and record
                (building / run_file).unlink(missing_ok=True)
            return run.duration_ms

        return await self._entry(environment, statement, REFERENCE_EXPORT, build)

    # --- a zygote child's reference (settings.audit_compiler == "zygote") -------------------

    async def _zygote_reference(self, environment: Environment, statement: str) -> Path:
        """The locked statement's export, made once by a zygote child of its own (a process that
        saw no other request: never a pooled worker) and then read from the cache, as
        `_elab_reference` makes it with a process of its own."""

        async def build(building: Path) -> float:
            started = time.monotonic()
            try:
                made = await self._zygotes.elaborate(
                    environment, statement, timeout=self.settings.audit_timeout, reference=True
                )
            except ReplError as exc:  # time, a crash: the service's, as a compile's would be
                raise AuditError(f"elaborating the locked statement failed: {exc}") from exc
            if made.run.reply.has_errors:
                raise _statement_fails(environment, placed_errors(made.run.reply)[:5])
            if made.refusal is not None:
                code, detail = made.refusal
                if code == "elaboration_failed":
                    raise _statement_fails(environment, [detail])
                raise AuditError(f"the locked statement could not be exported: {code}: {detail}")
            if made.export is None:
                raise AuditError("the locked statement's export is over its size limit")
            building.mkdir(parents=True)
            (building / REFERENCE_EXPORT).write_bytes(made.export)
            return ms_since(started)

        return await self._entry(environment, statement, REFERENCE_EXPORT, build)


def _statement_fails(environment: Environment, details: list[str]) -> SubmissionError:
    """The locked statement's own compile failed: the statement's fault, never the proof's."""
    return SubmissionError(
        f"the locked statement does not compile in environment {environment.name!r}; fix the "
        "statement (not the proof): " + "; ".join(details),
        field="statement",
    )


def _publish(building: Path, final: Path, environment: Environment, *, compile_ms: float) -> None:
    """Write the entry's record and move `building` to `final`; a concurrent builder that got
    there first (its `reference.json` in place) is no error."""
    meta = {"environment": environment.describe(), "compile_ms": compile_ms}
    (building / "reference.json").write_text(json.dumps(meta), encoding="utf-8")
    try:
        building.rename(final)
    except OSError:
        if not (final / "reference.json").is_file():  # not a lost race: a real problem
            raise
