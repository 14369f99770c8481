"""How a REPL worker is started for an environment: the `SpawnSpec` the pool hands the spawner.

Default: `lake env <repl>` in the environment's directory, the binary being the REPL that Lake built
at `<env dir>/.lake/packages/REPL/.lake/build/bin/repl` (see `proofgate.environments.toolchain`); `lake env`
sets LEAN_PATH to the project's oleans. `settings.repl_command` (shell words) replaces the command,
e.g. the REPL binary itself with LEAN_PATH set by the operator. The spawner (unjailed or the
sandbox) decides how the spec runs: `read_only` and `writable` name what a jail must expose.

`SpawnSpec.env` is the child's whole environment, built by `lean_environment` for every Lean process
(the REPL workers and the audit's compiles and checkers alike): `HOME` and `TMPDIR` inside the jail
(its private, size-capped tmpfs `/tmp`), a `PATH` of the toolchain's `bin` then the jail's system
directories, the thread count, `LANG`; nothing of the service's own environment (its `HOME`,
`PATH`, data directory, `PROOFGATE_*`) but the toolchain's `LEAN_PATH`/`LEAN_SYSROOT` when the
operator set them. A worker gets no host directory it can write. The simulated REPL is refused
here: no verification path may select it.

Threads and process caps, for every Lean process the service starts (read from Lean's sources,
untested against real Lean): a compiled Lean program (the REPL, Lake, the checkers) sizes its task
manager from `LEAN_NUM_THREADS`, else the core count (`lean_init_task_manager` in
src/runtime/object.cpp); the `lean` front end ignores that variable and takes `-j N` (shell.cpp /
src/Lean/Shell.lean). The REPL's `main` ignores its arguments (REPL/Main.lean), so it gets the
variable and nothing on its command line. A cgroup's `pids.max` counts threads, so every jail's
cap is computed from the thread count here (`lean_process_cap`, `process_cap`).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.environments.toolchain import LeanInstall, find_lean
from proofgate.exceptions import ConfigError, LeanUnavailable
from proofgate.lean.protocol import protocol_for
from proofgate.sandbox.process import Limits, SpawnSpec

__all__ = [
    "JAIL_HOME",
    "JAIL_SYSTEM_PATH",
    "JAIL_TMPDIR",
    "LEAN_RUNTIMES",
    "THREAD_MARGIN",
    "LeanReplLauncher",
    "ReplLauncher",
    "lean_environment",
    "lean_process_cap",
    "lean_thread_args",
    "lean_thread_env",
    "process_cap",
    "worker_limits",
]

#: The toolchain variables an operator may set for Lean (e.g. with `PROOFGATE_REPL_COMMAND`); the
#: only ones of the service's own environment a Lean process sees.
TOOLCHAIN_VARIABLES = ("LEAN_PATH", "LEAN_SYSROOT")
#: HOME and TMPDIR of every Lean process: the jail's private tmpfs (`proofgate.sandbox.bwrap`).
JAIL_HOME = "/tmp"
JAIL_TMPDIR = "/tmp"
#: After the toolchain's `bin`: the jail's own system directories (read-only, always mounted).
JAIL_SYSTEM_PATH = "/usr/bin:/bin"
#: Threads one Lean runtime may run besides its task manager's workers: the main thread, one per
#: dedicated task, and the extra worker a pool task blocked in `Task.get` adds while it waits
#: (`task_manager::wait_for`), with room for a few of each.
THREAD_MARGIN = 8
#: Lean runtimes in one jail, each with its own task manager: `lake env` and the program it runs.
LEAN_RUNTIMES = 2
SIMULATED_MODULE = "proofgate.bench.simulated_repl"


class ReplLauncher(Protocol):
    """Builds the spec of one REPL worker for an environment."""

    def spawn_spec(self, environment: Environment) -> SpawnSpec: ...


@functools.lru_cache(maxsize=64)
def shell_words(command: str) -> tuple[str, ...]:
    """`command` (a setting's shell words) split as a shell would, once: shlex takes a tenth of a
    millisecond or more per command, and the audit splits its commands for every check."""
    return tuple(shlex.split(command))


def lean_thread_env(settings: Settings) -> dict[str, str]:
    """The variable that sizes a compiled Lean program's task manager (the REPL, Lake, checkers)."""
    return {"LEAN_NUM_THREADS": str(settings.lean_threads)}


def lean_thread_args(settings: Settings) -> list[str]:
    """The `lean` front end's own thread count flag (it does not read LEAN_NUM_THREADS)."""
    return ["-j", str(settings.lean_threads)]


def lean_process_cap(settings: Settings) -> int:
    """The tasks (processes and threads) a jail running one Lean program under `lake env` needs:
    the cap of the trusted checker and leanchecker, which run no submission code."""
    return LEAN_RUNTIMES * (settings.lean_threads + THREAD_MARGIN)


def process_cap(settings: Settings) -> int:
    """The cap of a jail that runs submission code (a REPL worker, an audit compile): the
    operator's `max_processes`, raised to what the thread count needs."""
    return max(settings.max_processes, lean_process_cap(settings))


def worker_limits(settings: Settings) -> Limits:
    """What one REPL worker's tree may take, the pool's and the sessions' alike."""
    return Limits(
        memory_bytes=settings.memory_limit_mb * 2**20, max_processes=process_cap(settings)
    )


def lean_environment(
    settings: Settings, *, bin_dirs: Sequence[Path] = (), elan_home: Path | None = None
) -> dict[str, str]:
    """The whole environment of a Lean process (a REPL worker, a compile, a checker): the one
    builder. `bin_dirs` are the toolchain's, first on PATH; `elan_home` only when it is mounted
    read-only in the jail (elan's `lake`/`lean` proxies read it)."""
    env = {name: os.environ[name] for name in TOOLCHAIN_VARIABLES if os.environ.get(name)}
    env.update(
        PATH=os.pathsep.join([*(str(d) for d in bin_dirs), JAIL_SYSTEM_PATH]),
        HOME=JAIL_HOME,
        TMPDIR=JAIL_TMPDIR,
        LANG="C.UTF-8",
        **lean_thread_env(settings),  # never the service's own LEAN_NUM_THREADS
    )
    if elan_home is not None:
        env["ELAN_HOME"] = str(elan_home)
    return env


def _line_buffered(environment: Environment) -> list[str]:
    """`stdbuf -oL` for a REPL that never flushes its replies (before v4.10.0: see
    `proofgate.lean.protocol`), else nothing. Line-buffered, each line of a reply is written at
    its newline, so the closing blank line arrives with the reply (stdbuf's preloaded library
    sets the C stdio buffering that Lean's stdout writes through; untested against real Lean)."""
    if protocol_for(environment.repl_version).flushes:
        return []
    stdbuf = shutil.which("stdbuf") or shutil.which("stdbuf", path="/usr/bin:/bin")
    if stdbuf is None:
        raise LeanUnavailable(
            f"the REPL of {environment.name!r} ({environment.repl_version}) never flushes its "
            "replies and `stdbuf` (coreutils) is not installed: install it, or pin a REPL that "
            "has commit 4fc1e6d (v4.10.0 or later)"
        )
    return [stdbuf, "-oL"]


class LeanReplLauncher:
    """`lake env <repl binary>` in the environment's directory, or `settings.repl_command`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._installs: dict[str, LeanInstall] = {}

    def _install(self, environment: Environment) -> LeanInstall:
        """The toolchain found for `environment`, looked up once (it runs `lean --version`)."""
        if environment.name not in self._installs:
            self._installs[environment.name] = find_lean(self._settings, environment)
        return self._installs[environment.name]

    def spawn_spec(self, environment: Environment) -> SpawnSpec:
        settings = self._settings
        install = self._install(environment)
        toolchain = install.lean.parent.parent if install.lean is not None else None
        read_only = tuple(p for p in (toolchain, environment.directory) if p is not None)
        env = lean_environment(settings, bin_dirs=[install.lean.parent] if install.lean else [])
        if settings.repl_command is not None:
            argv = list(shell_words(settings.repl_command))
            if any(SIMULATED_MODULE in word or word.endswith("simulated_repl.py") for word in argv):
                raise ConfigError(
                    "PROOFGATE_REPL_COMMAND names the simulated REPL, which checks nothing: "
                    "it only runs under `proofgate bench`; unset PROOFGATE_REPL_COMMAND"
                )
        else:
            # Any problem refuses: a toolchain of another version (e.g. one home given to two
            # environments) must never serve an environment pinned to another Lean.
            if install.problems or install.lake is None or install.repl_binary is None:
                problems = "; ".join(install.problems) or "lake or the REPL binary is missing"
                raise LeanUnavailable(
                    f"cannot start a Lean REPL for {environment.name!r}: {problems}"
                )
            argv = [
                str(install.lake),
                "env",
                *_line_buffered(environment),
                str(install.repl_binary),
            ]
        # Nothing writable from the host: the jail's /tmp (HOME, TMPDIR) is its own tmpfs.
        return SpawnSpec(argv=argv, cwd=environment.directory, env=env, read_only=read_only)
