"""How both spawners start a child without running Python between fork and exec.

A `preexec_fn` makes `subprocess` fork the whole server (no vfork) and run Python in the child,
and the event loop waits through all of it. Instead the child is a short `/bin/sh` script that
joins the cgroup (writing "0", itself, into each join file), raises its own `oom_score_adj`, sets
its rlimits with util-linux's `prlimit --pid $$`, writes "ok" on its stdout, and only then execs
the program, which inherits all of it. The parent reads those two bytes on the loop without
blocking, before anyone else reads the program's stdout; a child that exits before it raises
`ChildProcessError` with the shell's complaint, so a cgroup that cannot be joined is still a failed
spawn, never a program that ran unconfined or a jail that "exited 125".

The launcher itself is started by the spawn server (`proofgate.sandbox.spawn_client`): the
service never forks, so no process start holds its event loop, and the spawn server reaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shlex
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from proofgate.sandbox import spawn_client
from proofgate.sandbox.process import Limits, rlimits
from proofgate.sandbox.spawned import SpawnedProcess
from proofgate.ticks import wait_for

__all__ = ["HANDSHAKE_SECONDS", "SHELL", "LaunchKilled", "find_prlimit", "launch_script", "start"]

SHELL = "/bin/sh"
#: Seconds the launcher has to join, limit itself and report before the spawn is given up.
HANDSHAKE_SECONDS = 30.0
#: The exit status of a launcher that could not confine itself (never the program's own).
_LAUNCH_FAILED = 125
#: What the launcher writes on the program's stdout once confined, read off before the program's own.
_REPORT = b"ok"
#: prlimit's option for each rlimit `rlimits` sets.
_PRLIMIT_OPTIONS = {
    resource.RLIMIT_NOFILE: "nofile",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_CORE: "core",
}
_PRLIMIT_HINT = "prlimit (util-linux) not found: apt-get install util-linux"


class LaunchKilled(ChildProcessError):
    """A signal ended the launcher before the program started: someone else's kill (an operator,
    the OOM killer), not the launcher refusing to confine itself."""


def find_prlimit() -> str:
    """The prlimit binary (util-linux, essential on Debian); OSError naming the fix if absent."""
    found = shutil.which("prlimit") or shutil.which("prlimit", path="/usr/bin:/bin")
    if found is None:
        raise FileNotFoundError(_PRLIMIT_HINT)
    return found


def _prlimit_options(limits: Limits) -> list[str]:
    return [f"--{_PRLIMIT_OPTIONS[kind]}={soft}:{hard}" for kind, (soft, hard) in rlimits(limits)]


def launch_script(
    limits: Limits,
    *,
    prlimit: str,
    join_files: Sequence[Path] = (),
    oom_score_adj: int | None = None,
) -> str:
    """The launcher's script: confine itself, write "ok" on stdout, exec "$@"."""
    fail = f"exit {_LAUNCH_FAILED}"
    lines = [f"printf 0 >{shlex.quote(str(path))} || {fail}" for path in join_files]
    if oom_score_adj is not None:  # best effort, as the kernel may refuse it
        lines.append(f"{{ printf {oom_score_adj} >/proc/self/oom_score_adj; }} 2>/dev/null")
    options = " ".join(_prlimit_options(limits))
    lines.append(f"{shlex.quote(prlimit)} --pid $$ {options} || {fail}")
    lines.append(f"printf {_REPORT.decode()} || {fail}")
    lines.append('exec "$@"')
    return "\n".join(lines)


def _check_program(program: str, *, cwd: str, env: Mapping[str, str]) -> None:
    """Raise the OSError `exec` would for a missing program: after the report the launcher has
    nothing to tell the parent with, so a program that cannot be run must fail here."""
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file or directory", program)
        if not os.access(path, os.X_OK):
            raise PermissionError(13, "Permission denied", program)
        return
    search = env.get("PATH", os.defpath)
    if shutil.which(program, path=search) is None:
        raise FileNotFoundError(2, f"No such file or directory (searched {search})", program)


async def start(
    argv: Sequence[str],
    *,
    limits: Limits,
    cwd: str,
    env: Mapping[str, str],
    join_files: Sequence[Path] = (),
    oom_score_adj: int | None = None,
    prlimit: str | None = None,
    stream_limit: int = 1 << 16,
    pass_fds: Sequence[int] = (),
) -> SpawnedProcess:
    """Start `argv` in a new session with piped stdin, stdout and stderr, confined before it
    runs (see the module); `stream_limit` bounds a line read from its stdout or stderr. Raises
    OSError (also `ChildProcessError`: the launcher gave up, or the spawn server is gone)."""
    if not argv:
        raise ValueError("nothing to start: argv is empty")
    _check_program(argv[0], cwd=cwd, env=env)
    script = launch_script(
        limits,
        prlimit=prlimit or find_prlimit(),
        join_files=join_files,
        oom_score_adj=oom_score_adj,
    )
    process = await spawn_client.spawn_server().spawn(
        [SHELL, "-c", script, "proofgate-launch", *argv],
        cwd=cwd,
        env=env,
        stream_limit=stream_limit,
        pass_fds=pass_fds,
    )
    try:
        report = await wait_for(process.stdout.readexactly(len(_REPORT)), HANDSHAKE_SECONDS)
    except asyncio.IncompleteReadError as exc:
        report = exc.partial
    except BaseException:  # cancelled, or no report in time
        await _abandon(process)
        raise
    if report != _REPORT:
        # The launcher's stdout ended before the report: it is exiting. How it ended tells a kill
        # from a refusal, so it is outwaited (bounded) before `_abandon` kills what is left.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 5.0)
        signalled = process.returncode is not None and process.returncode < 0
        complaint = await _abandon(process)
        if signalled:
            raise LaunchKilled(
                f"the launcher of {argv[0]} was killed by signal {-(process.returncode or 0)} "
                "before the program started"
            )
        raise ChildProcessError(
            f"the launcher gave up before {argv[0]} started: "
            + (complaint or f"exit status {process.returncode}")
        )
    return process


async def _abandon(process: SpawnedProcess) -> str:
    """Kill a launch that failed or was cancelled, outwait it (bounded), return its stderr tail."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    complaint = b""
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, OSError):
        complaint = await asyncio.wait_for(process.stderr.read(4096), 5.0)
        await asyncio.wait_for(process.wait(), 5.0)
    return complaint.decode(errors="replace").strip()
