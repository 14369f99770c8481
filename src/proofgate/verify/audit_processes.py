"""The audit's processes, each run to completion in a jail of its own: the compile (`lean -o`,
with the exporter in warm mode), the one-shot elaborator, the exporter on a cached reference,
leanchecker, and how a checker (one-shot or warm) is launched. `AuditProcesses` holds the
settings and the runner; `ReferenceCache` and `Auditor` build on it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.environments.toolchain import lean_home_for
from proofgate.exceptions import AuditError, NotReady, SpawnFailed
from proofgate.lean.launch import (
    lean_environment,
    lean_process_cap,
    lean_thread_args,
    process_cap,
    shell_words,
)
from proofgate.sandbox.process import Launch, Limits, Spawner, SpawnSpec
from proofgate.verify.audit_runs import MAX_OUTPUT, Runner, RunResult, once_more_if_killed
from proofgate.verify.checker_output import LEANCHECKER
from proofgate.verify.elab_audit import (
    ELAB_BINARY,
    ELAB_REPLY,
    elab_argv,
    option_args,
    write_request,
)
from proofgate.verify.warm_audit import (
    EXPORTER_BINARY,
    checker_imports,
    compile_and_export,
    exporter_argv,
)
from proofgate.verify.zygote_audit import Zygotes, children_at_most

__all__ = ["CHECKER_BINARY", "MODULE", "OLEAN", "SOURCE", "AuditProcesses"]

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


class AuditProcesses:
    """Starts the audit's jailed processes for one settings object (`runner` and `spawner`
    injected, else the sandbox's)."""

    def __init__(
        self, settings: Settings, *, runner: Runner | None = None, spawner: Spawner | None = None
    ) -> None:
        self.settings = settings
        self._runner = runner
        self._spawner = spawner
        self._zygotes = Zygotes(settings, self._zygote_launch)

    # --- the warm path's exporter and checkers (proofgate.verify.warm_audit) ------------------

    async def _export(self, environment: Environment, olean: Path, out: Path) -> RunResult:
        """`proofgate-export` on a cached reference .olean (new ones are exported by their
        compile's jail), jailed like a compile, its output in the .olean's directory."""
        argv = self._exporter_argv(environment, olean=olean, out=out)
        return await once_more_if_killed(
            lambda: self._run(
                self._spec(argv, environment, read_only=[], writable=[olean.parent], checker=False)
            ),
            what="the exporter",
        )

    def _exporter_argv(self, environment: Environment, *, olean: Path, out: Path) -> list[str]:
        """The exporter's argv for this audit's module: the configured command, or the
        environment's own binary."""
        if self.settings.export_command is not None:
            command = list(shell_words(self.settings.export_command))
        else:
            command = ["lake", "env", str(environment.directory / EXPORTER_BINARY)]
        return exporter_argv(command, olean=olean, module=MODULE, out=out, environment=environment)

    def _checker_launch(self, environment: Environment) -> Launch:
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
        return Launch(self._process_runner()[1], spec, limits)

    # --- the zygotes (settings.audit_compiler == "zygote"; verify/zygote_audit.py) ------------

    def _zygote_launch(self, environment: Environment) -> Launch:
        """How one environment's zygotes start: `proofgate-elab --zygote [--option N=V]...`,
        jailed like a compile but with no writable path (its children share its jail) and no
        file writes at all, its caps those of a compile for it and each child it may have."""
        command = self._elab_command(environment, self.settings.zygote_command, "--zygote")
        spec, limits = self._spec(
            [*command, *option_args(environment)],
            environment,
            read_only=[],
            writable=[],
            checker=False,
        )
        share = 1 + children_at_most(self.settings)  # the zygote and each child at once
        limits = dataclasses.replace(
            limits,
            memory_bytes=limits.memory_bytes * share if limits.memory_bytes else None,
            max_processes=limits.max_processes * share if limits.max_processes else None,
            file_size_bytes=0,
            oom_group=False,  # a child the kernel kills for memory dies alone, not its siblings
            member_cgroups=True,  # and each child has a compile's caps of its own (Zygote.run)
        )
        return Launch(self._process_runner()[1], dataclasses.replace(spec, scratch=False), limits)

    # --- the one-shot elaborator (settings.audit_compiler == "elab"; verify/elab_audit.py) ---

    async def _elaborate(
        self, environment: Environment, directory: Path, code: str, export: Path, what: str
    ) -> RunResult:
        """One `proofgate-elab` run on `code` in the fresh `directory` (its only writable path),
        jailed and limited as a compile; killed from outside, run once more."""
        request = await asyncio.to_thread(write_request, directory, code)
        reply = directory / ELAB_REPLY
        command = self._elab_command(environment, self.settings.elab_command)
        argv = elab_argv(
            command, request=request, reply=reply, export=export, environment=environment
        )

        async def elaborate_once() -> RunResult:
            for path in (reply, export):  # nothing a killed run left behind is read
                path.unlink(missing_ok=True)
            return await self._run(
                self._spec(argv, environment, read_only=[], writable=[directory], checker=False)
            )

        return await once_more_if_killed(elaborate_once, what=f"elaborating {what}")

    def _elab_command(
        self, environment: Environment, configured: str | None, *mode: str
    ) -> list[str]:
        """`proofgate-elab` as configured (shell words), else the environment's own binary under
        `lake env` with `mode`'s flags; a binary not built is an `AuditError` (else `lake env`
        fails, which would read as the text's fault)."""
        if configured is not None:
            return list(shell_words(configured))
        binary = environment.directory / ELAB_BINARY
        if not binary.is_file():
            raise AuditError(
                f"proofgate-elab is not built in {environment.directory}: run `lake build "
                f"proofgate-elab` there (PROOFGATE_AUDIT_COMPILER={self.settings.audit_compiler})"
            )
        return ["lake", "env", str(binary), *mode]

    # --- the compile, leanchecker, and the jail every audit process runs in ------------------

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
        outside is run once more; killed again, it is an `AuditError` (`once_more_if_killed`)."""
        argv = [
            *shell_words(self.settings.compile_command),
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

        return await once_more_if_killed(compile_once, what=f"compiling {what}")

    async def _leanchecker(self, environment: Environment, scratch: Path) -> RunResult | None:
        """`leanchecker ProofgateSubmission` with the scratch directory on `LEAN_PATH` (`lake env`
        puts its own paths first and keeps the caller's), jailed like the checker; None when
        the setting is off. leanchecker takes module names, not files, and, without `--fresh`,
        replays only the module's own constants on top of its imports (`--fresh` would re-check
        all of Mathlib)."""
        if not self.settings.leanchecker:
            return None
        argv = [*shell_words(self.settings.leanchecker_command), MODULE]
        return await once_more_if_killed(
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
            return list(shell_words(self.settings.checker_command))
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
