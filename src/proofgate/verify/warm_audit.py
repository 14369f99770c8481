"""The audit's warm path (`PROOFGATE_AUDIT_CHECKER=warm`; docs/audit-design.md, steps 3 and 4).

After each compile, in the same jail, `proofgate-export` turns the module's .olean into an export
(NDJSON, parsed by safe code: requirement 2); a pool of long-lived checkers per environment,
each of which imported Mathlib once, judges the submission's export against the locked
statement's (contract 2). What a check may end as:
- a report (`ExportAuditReport`): the verdict judges it like contract 1's, its three export
  outcomes (`export_invalid`, `export_too_large`, `import_redeclared`) being `failed`;
- the exporter refusing the submission's module, or the checker over its time or memory limit:
  the submission's outcome, as a `CompileFailure` (`failed`, `timeout`, `out_of_memory`);
- a checker that crashed (replaced; the check runs once more on a fresh one) twice, or that broke
  the protocol: `AuditError` (`internal`, never cached, never `proved`).

Untested against real Lean: the Lean exporter and the checker's `--serve` mode have never run.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.readiness import EXPORTER_PATH
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError
from proofgate.lean.lexer import iter_tokens
from proofgate.lean.syntax import read_header
from proofgate.logs import get_logger
from proofgate.sandbox.process import Launch
from proofgate.verify.checkers import Checkers, CheckFailure, CheckRequest
from proofgate.verify.contract import CompileFailure, ExportAuditReport
from proofgate.verify.export import FORMAT_VERSION

__all__ = [
    "EXPORTER_BINARY",
    "EXPORT_FAILED",
    "REFERENCE_EXPORT",
    "SUBMISSION_EXPORT",
    "WarmCheckers",
    "checker_imports",
    "compile_and_export",
    "exporter_argv",
    "exporter_failure",
]

_log = get_logger("proofgate.audit")

#: The exporter's executable inside an environment's Lake build directory.
EXPORTER_BINARY = EXPORTER_PATH
#: Beside the module's .olean, in the compile's directory.
SUBMISSION_EXPORT = "ProofgateSubmission.ndjson"
#: Beside the cached reference .olean; the format version in the name, so a new format is
#: exported afresh from the same (still valid) .olean.
REFERENCE_EXPORT = f"reference-export-v{FORMAT_VERSION}.ndjson"
#: The exporter's refusal (one JSON line) quoted in a verdict, at most.
REFUSAL_CHARS = 500
#: The exit status of a compile-and-export run whose compile succeeded and export did not (Lean
#: itself exits 0 or 1, or by a signal).
EXPORT_FAILED = 97

#: How one environment's checkers start.
CheckerLaunch = Callable[[Environment], Launch]


def exporter_argv(
    command: list[str], *, olean: Path, module: str, out: Path, environment: Environment
) -> list[str]:
    """`proofgate-export --olean F --module M --out F [--option NAME=VALUE]...`: the environment's
    option set goes into the export's meta line, which the checker reads."""
    argv = [*command, "--olean", str(olean), "--module", module, "--out", str(out)]
    for flag in environment.option_args():  # `-DNAME=VALUE`
        argv += ["--option", flag.removeprefix("-D")]
    return argv


def checker_imports(headers: Sequence[str]) -> list[str]:
    """The modules a warm checker imports once (`--import M`...): those of the headers the service
    prewarms (default `import Mathlib`). A check whose export imports a module outside them is
    `bad_input` in the checker (`internal` here): the pool's configuration, not the proof."""
    modules: list[str] = []
    for header in headers:
        for token in read_header(iter_tokens(header)).modules:
            if token.text not in modules:
                modules.append(token.text)
    return modules


def compile_and_export(compile_argv: list[str], export_argv: list[str]) -> list[str]:
    """One jailed run that compiles and then exports (design step 3: the exporter reads the
    .olean inside the compile's jail): a failed compile exits with the compiler's status and
    output; a failed export exits `EXPORT_FAILED`, its refusal the last line of stdout."""
    script = (
        f"{shlex.join(compile_argv)} && {{ {shlex.join(export_argv)} || exit {EXPORT_FAILED}; }}"
    )
    return ["/bin/sh", "-c", script]


def exporter_failure(stdout: bytes, *, what: str) -> str:
    """Why the exporter refused a module, from its JSON line (the last of stdout: a compile's
    messages come before it), else the raw tail."""
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    text = lines[-1] if lines else ""
    try:
        refusal = json.loads(text)
        if isinstance(refusal, dict) and isinstance(refusal.get("error"), str):
            detail = refusal.get("detail")
            text = refusal["error"] + (f": {detail}" if isinstance(detail, str) else "")
    except ValueError:
        pass
    return f"{what} could not be exported: {text[:REFUSAL_CHARS]}"


class WarmCheckers:
    """One pool of warm checkers per environment, started on its first check; `close` ends all."""

    def __init__(self, settings: Settings, launch: CheckerLaunch) -> None:
        self.settings = settings
        self._launch = launch
        self._pools: dict[str, Checkers] = {}
        self._lock = asyncio.Lock()

    def pool(self, environment: Environment) -> Checkers | None:
        return self._pools.get(environment.name)

    async def _pool(self, environment: Environment) -> Checkers:
        async with self._lock:
            pool = self._pools.get(environment.name)
            if pool is None:
                pool = Checkers(
                    self._launch(environment),
                    size=self.settings.checkers,
                    recycle_after=self.settings.checker_recycle,
                    start_timeout=max(self.settings.audit_timeout, 1.0),
                )
                self._pools[environment.name] = pool
            return pool

    async def prewarm(self, environment: Environment) -> None:
        """Start `environment`'s checkers in the background, before its first check."""
        (await self._pool(environment)).prewarm()

    async def check(
        self, environment: Environment, request: CheckRequest
    ) -> ExportAuditReport | CompileFailure:
        """The report for `request`, or the submission's time/memory outcome; a checker that
        crashed is replaced and the check run once more (design, requirement 4)."""
        pool = await self._pool(environment)
        timeout = self.settings.audit_check_timeout
        result = await pool.check(request, timeout=timeout)
        if isinstance(result, CheckFailure) and result.kind == "crashed":
            _log.warning("checker_crashed", reason=result.reason, retry=True)
            result = await pool.check(request, timeout=timeout)
        if not isinstance(result, CheckFailure):
            return result
        if result.kind == "timeout":
            return CompileFailure(
                f"the trusted checker did not finish in {timeout:g} s", timed_out=True
            )
        if result.kind == "out_of_memory":
            return CompileFailure(
                "the trusted checker went over its memory cap", out_of_memory=True
            )
        again = " twice" if result.kind == "crashed" else ""
        raise AuditError(f"the warm checker failed{again} ({result.kind}): {result.reason}")

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(pool.close() for pool in pools))
