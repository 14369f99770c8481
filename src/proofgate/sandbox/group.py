"""The unjailed spawner: each process tree in its own process group, killed as a whole.

`ProcessGroupSpawner` is for development and for the sandbox to wrap; it confines nothing. It
starts the child in a new session (so its process group holds every descendant that does not
`setsid` itself), sets RLIMIT_NOFILE, RLIMIT_FSIZE and RLIMIT_CORE before exec (through the launcher,
`proofgate.sandbox.launch`: no Python runs between fork and exec), kills the group with
SIGKILL, and caps the tree's private memory with the sandbox's `Watchdog`: RssAnon of every process
(`proofgate.sandbox.proctree`), never plain RSS, which counts the mmapped Mathlib oleans that all
workers share through the page cache. RLIMIT_AS is not used: Lean reserves far more address space
than it touches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess

from proofgate.exceptions import SpawnFailed
from proofgate.sandbox import launch
from proofgate.sandbox.process import Limits, ManagedProcess, PipedProcess, SpawnSpec
from proofgate.sandbox.proctree import ProcessTree
from proofgate.sandbox.spawned import SpawnedProcess
from proofgate.sandbox.watchdog import Watchdog

__all__ = ["GroupProcess", "ProcessGroupSpawner"]


class GroupProcess(PipedProcess):
    """A started child and its process group; implements `ManagedProcess`. Its memory is watched
    by the sandbox's `Watchdog` when `Limits.memory_bytes` caps it (the task count is not capped:
    unjailed, the tree confines nothing)."""

    def __init__(self, process: SpawnedProcess, limits: Limits) -> None:
        super().__init__(process)
        self._group_released = False
        self._tree = ProcessTree(self.pid)
        self.watchdog: Watchdog | None = None  # None without a memory cap
        self._watching: asyncio.Task[None] | None = None
        if limits.memory_bytes is not None:
            self.watchdog = Watchdog(
                self._tree,
                kill=self.kill,
                memory_bytes=limits.memory_bytes,
                oom_group=limits.oom_group,
            )
            self._watching = asyncio.get_running_loop().create_task(
                self.watchdog.run(stopped=lambda: self.returncode is not None),
                name=f"memory-watchdog-{self.pid}",
            )

    async def wait(self) -> int:
        """The exit status, as the spawn server reports it: at the exit, whatever holds the pipes
        (an orphaned grandchild can keep them open for ever)."""
        return await self._process.wait()

    def kill(self) -> None:
        """SIGKILL the whole group (descendants included); idempotent, never raises.

        Once the leader is gone, the group is killed one last time and never again, so a later
        call cannot hit an unrelated group that reused the number."""
        self._stop_watchdog()
        if self._group_released:
            return
        if self._process.returncode is not None:
            self._group_released = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            with contextlib.suppress(OSError):
                self._process.kill()  # by pidfd: never a process that reused the number

    def _stop_watchdog(self) -> None:
        task = self._watching
        if task is None or task.done():
            return
        try:
            current = asyncio.current_task()
        except RuntimeError:  # no running loop: nothing can be awaiting the task either
            current = None
        if task is not current:
            task.cancel()

    def private_memory_bytes(self) -> int | None:
        """RssAnon of the tree (`ProcessTree.private_memory_bytes`); None once the leader exited."""
        if self._process.returncode is not None:
            return None
        return self._tree.private_memory_bytes()

    def out_of_memory(self) -> bool:
        return self.watchdog is not None and self.watchdog.out_of_memory

    def oom_kills(self) -> int | None:
        # no cgroup: the kernel's kills are not told from any other SIGKILL; the watchdog's are
        return None if self.watchdog is None else self.watchdog.memory_kills

    def task_kills(self) -> int:
        return 0 if self.watchdog is None else self.watchdog.task_kills

    @property
    def limit_exceeded(self) -> str | None:
        return None if self.watchdog is None else self.watchdog.exceeded


class ProcessGroupSpawner:
    """Starts each process tree unjailed in its own session; `name` is "none" as doctor reports it."""

    name = "none"

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        """Start `spec.argv` in `spec.cwd` with exactly `spec.env` as its environment."""
        try:
            process = await launch.start(
                spec.argv,
                limits=limits,
                cwd=str(spec.cwd),
                env=spec.env,
                pass_fds=spec.pass_fds,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise SpawnFailed(
                f"could not start {spec.argv[0]!r} in {spec.cwd}: {exc} "
                "(check the REPL command and that `proofgate doctor` passes)",
                killed=isinstance(exc, launch.LaunchKilled),
            ) from exc
        return GroupProcess(process, limits)
