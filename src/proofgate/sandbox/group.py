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
from collections.abc import Iterator

from proofgate.exceptions import SpawnFailed
from proofgate.sandbox import launch
from proofgate.sandbox.process import Limits, ManagedProcess, PipedProcess, SpawnSpec
from proofgate.sandbox.proctree import ProcessTree
from proofgate.sandbox.watchdog import Watchdog
from proofgate.ticks import grid_delay

__all__ = ["GroupProcess", "ProcessGroupSpawner"]

#: Seconds between two looks at whether the process exited without a pidfd (`GroupProcess.wait`).
EXIT_POLL_SECONDS = 0.05
#: Seconds between two looks at the exit status while a pidfd watches for the exit (the look is
#: for a pid reused before `pidfd_open`, which the pidfd would then never report).
PIDFD_RECHECK_SECONDS = 5.0
#: Loop turns `GroupProcess.wait` yields, once the pidfd said the process exited, for the child
#: watcher to record its status, before it falls back to looking every EXIT_POLL_SECONDS.
EXITED_TURNS = 20


class GroupProcess(PipedProcess):
    """A started child and its process group; implements `ManagedProcess`. Its memory is watched
    by the sandbox's `Watchdog` when `Limits.memory_bytes` caps it (the task count is not capped:
    unjailed, the tree confines nothing)."""

    def __init__(self, process: asyncio.subprocess.Process, limits: Limits) -> None:
        super().__init__(process)
        self._group_released = False
        self._tree = ProcessTree(self.pid)
        self.watchdog: Watchdog | None = None  # None without a memory cap
        self._watching: asyncio.Task[None] | None = None
        if limits.memory_bytes is not None:
            self.watchdog = Watchdog(self._tree, kill=self.kill, memory_bytes=limits.memory_bytes)
            self._watching = asyncio.get_running_loop().create_task(
                self.watchdog.run(stopped=lambda: self.returncode is not None),
                name=f"memory-watchdog-{self.pid}",
            )

    async def wait(self) -> int:
        """The exit status. Not asyncio's own `wait()`, which also waits for every pipe to close
        (never, while an orphaned grandchild holds one): a pidfd says when the process exits
        (Linux >= 5.3) without waking the loop 20 times a second per worker; else it is polled."""
        with self._exit_signal() as exited:
            turns = 0
            while self._process.returncode is None:
                if exited is not None and not exited.done():
                    # a look every few seconds too, in case the pid was reused before pidfd_open
                    await asyncio.wait({exited}, timeout=grid_delay(PIDFD_RECHECK_SECONDS))
                elif exited is not None and turns < EXITED_TURNS:
                    turns += 1  # the child watcher records the status a loop turn or two later
                    await asyncio.sleep(0)
                else:
                    await asyncio.sleep(EXIT_POLL_SECONDS)
        await asyncio.sleep(0)  # let asyncio's own exit callback run first: it closes the transport
        return self._process.returncode

    @contextlib.contextmanager
    def _exit_signal(self) -> Iterator[asyncio.Future[None] | None]:
        """A future done when the process exits (from a pidfd), or None where there is none."""
        try:
            descriptor = os.pidfd_open(self.pid)  # Linux only: AttributeError elsewhere
        except (AttributeError, OSError):
            yield None
            return
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def mark_exited() -> None:
            # Once: an exited process's pidfd stays readable, and the loop polls it level-triggered,
            # so a reader left in place would wake the loop on every turn until the context ends.
            loop.remove_reader(descriptor)
            if not exited.done():
                exited.set_result(None)

        try:
            loop.add_reader(descriptor, mark_exited)
        except (NotImplementedError, OSError):  # a loop without add_reader: poll instead
            os.close(descriptor)
            yield None
            return
        try:
            yield exited
        finally:
            loop.remove_reader(descriptor)
            os.close(descriptor)

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
            # Never `Popen.kill()`: it polls first, reaping the child behind asyncio's back (which
            # then reports exit status 255 instead of the signal).
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

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

    @property
    def limit_exceeded(self) -> str | None:
        return None if self.watchdog is None else self.watchdog.exceeded


class ProcessGroupSpawner:
    """Starts each process tree unjailed in its own session; `name` is "none" as doctor reports it."""

    name = "none"

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        """Start `spec.argv` in `spec.cwd` with exactly `spec.env` as its environment."""
        try:
            process = await launch.start(spec.argv, limits=limits, cwd=str(spec.cwd), env=spec.env)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise SpawnFailed(
                f"could not start {spec.argv[0]!r} in {spec.cwd}: {exc} "
                "(check the REPL command and that `proofgate doctor` passes)",
                killed=isinstance(exc, launch.LaunchKilled),
            ) from exc
        return GroupProcess(process, limits)
