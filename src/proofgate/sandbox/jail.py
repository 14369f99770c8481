"""A running jail: the `ManagedProcess` that `BwrapSpawner` returns.

`JailedProcess` watches its limits while the jail runs (the cgroup's OOM record, or, when there is no
cgroup, the sandbox's `Watchdog` over the tree's RssAnon and task count), kills the whole namespace
on a breach or on request, and after exit kills any straggler and removes its cgroup (its /tmp is
a tmpfs of its own mount namespace: it goes with the last process inside).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from proofgate.logs import get_logger
from proofgate.sandbox.cgroups import Cgroup
from proofgate.sandbox.process import Limits, PipedProcess
from proofgate.sandbox.proctree import ProcessTree, kill_members, living
from proofgate.sandbox.watchdog import Watchdog
from proofgate.ticks import grid_delay

__all__ = ["BWRAP_OWN_TASKS", "JailedProcess", "remove_tree"]

#: bwrap's own processes in the jail's cgroup: the outer bwrap and the namespace's init.
BWRAP_OWN_TASKS = 2
#: Seconds between two looks at a cgroup-confined tree. Without a cgroup the sandbox's `Watchdog`
#: enforces the caps, looking every `poll_interval` while the tree moves, backing off to once a
#: second while it holds steady.
CGROUP_POLL_SECONDS = 5.0

_log = get_logger(__name__)


class JailedProcess(PipedProcess):
    """A running jail: its pipes, its limits' watcher, and a kill that takes the whole namespace."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        limits: Limits,
        cgroup: Cgroup | None,
        poll_interval: float,
    ) -> None:
        super().__init__(process)
        self.cgroup = cgroup
        self._poll_interval = poll_interval
        self._tree = ProcessTree(self.pid)  # watchdog mode: every process ever seen in the tree
        self.watchdog: Watchdog | None = None  # None under a cgroup: the kernel holds the caps
        if cgroup is None:
            tasks = None if limits.max_processes is None else limits.max_processes + BWRAP_OWN_TASKS
            self.watchdog = Watchdog(
                self._tree,
                kill=self.kill,
                memory_bytes=limits.memory_bytes,
                max_tasks=tasks,
                fastest=poll_interval,
            )
        self._cgroup_exceeded: str | None = None
        self._group_released = False
        self._oom = False
        self._supervisor = asyncio.ensure_future(self._supervise())

    @property
    def returncode(self) -> int | None:
        """bwrap's exit status: the program's, 128+N if signal N killed it, -9 if we killed bwrap."""
        return self._process.returncode

    @property
    def limit_exceeded(self) -> str | None:
        """ "memory" or "processes" once the watcher killed the tree for going over that cap."""
        if self.watchdog is not None:
            return self.watchdog.exceeded
        return self._cgroup_exceeded

    async def wait(self) -> int:
        """Wait for exit and for the cleanup (stragglers killed, cgroup removed)."""
        await asyncio.shield(self._supervisor)
        returncode = self._process.returncode
        assert returncode is not None
        return returncode

    def kill(self) -> None:
        """SIGKILL bwrap, every descendant and everything in the cgroup; idempotent, never raises."""
        self._kill_group()
        if self._process.returncode is None:
            # a scan now; among the members the namespace's init, which _release waits on
            kill_members(self._tree.look(full=True).members.values())
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()  # the namespace's init dies with it (--die-with-parent)
        if self.cgroup is not None:
            self.cgroup.signal_all()

    def _kill_group(self) -> None:
        """SIGKILL bwrap's process group, where the namespace's init is too: bwrap killed while it
        sets the jail up can leave the init behind (its parent-death signal not yet armed), no
        longer a descendant. Once bwrap is gone, the group is killed one last time and never
        again, so a later call cannot hit an unrelated group that reused the number."""
        if self._group_released:
            return
        if self._process.returncode is not None:
            self._group_released = True
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)

    def _members(self) -> set[int] | None:
        """Every process of the jail's cgroup, which its launcher joined before the exec (so the
        whole tree); None without a cgroup, or when it cannot be read: the tree is then found from
        /proc."""
        if self.cgroup is None:
            return None
        try:
            return self.cgroup.pids() | {self.pid}
        except OSError:
            return None

    def private_memory_bytes(self) -> int | None:
        """Anonymous memory of the tree (the cgroup's, or RssAnon summed); None once bwrap exited."""
        if self._process.returncode is not None:
            return None
        if self.cgroup is not None:
            return self.cgroup.private_memory_bytes()
        return self._tree.private_memory_bytes()

    def out_of_memory(self) -> bool:
        return self._oom or (self.watchdog is not None and self.watchdog.out_of_memory)

    def _check_cgroup(self, cgroup: Cgroup) -> None:
        """End a tree one of whose processes the kernel killed for memory."""
        if self._cgroup_exceeded is None and cgroup.oom_killed():
            self._cgroup_exceeded = "memory"
            self._oom = True
            _log.warning("limit_exceeded", pid=self.pid, limit="memory", cgroup=cgroup.name)
            self.kill()

    async def _supervise(self) -> None:
        exited = asyncio.ensure_future(self._process.wait())
        try:
            if self.watchdog is not None:  # it enforces both caps and records every member
                await self.watchdog.run(stopped=exited.done, exited=exited)
            # Under a cgroup the kernel enforces both caps and `_release` reads the OOM record
            # after the exit: the look only ends a tree whose member the kernel killed, so it need
            # not be often.
            interval = max(self._poll_interval, CGROUP_POLL_SECONDS)
            while self.cgroup is not None and not exited.done():
                try:
                    self._check_cgroup(self.cgroup)
                except Exception as exc:  # noqa: BLE001 - a failed look must not end the watch
                    _log.error("jail_watch_failed", pid=self.pid, error=repr(exc))
                await asyncio.wait({exited}, timeout=grid_delay(interval))
            await exited
            await asyncio.to_thread(self._release)
        except asyncio.CancelledError:
            self.kill()
            # Cancelled (its loop is shutting down, say), the watch still sees the exit through,
            # for a bounded time: asyncio closes the subprocess transport only once it has seen
            # the exit and the pipes' end, and one left open when its loop is gone warns
            # ("unclosed transport", "Event loop is closed") wherever it is collected.
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._process.wait(), 5.0)
            self._release()
            raise

    def _wait_for_members(self, timeout: float = 5.0) -> None:
        """Kill and outwait every process ever seen in the tree. The namespace's init is one of
        them, and the kernel lets it finish dying only after every other process inside is gone."""
        deadline = time.monotonic() + timeout
        while alive := living(self._tree.seen):
            if time.monotonic() > deadline:
                _log.error("jail_survivors", pid=self.pid, survivors=[p.pid for p in alive][:20])
                return
            kill_members(alive)
            time.sleep(0.01)

    def _release(self) -> None:
        """After bwrap exited: record a late OOM, kill what is left, remove the cgroup.

        Under a cgroup too, every process a look saw is outwaited: the cgroup empties while a killed
        process is still exiting (bwrap's setup child, reparented to the host's init)."""
        self._kill_group()
        if self.cgroup is not None:
            if self.cgroup.oom_killed():
                self._oom = True
            self.cgroup.remove()
        self._wait_for_members()
        _log.debug(
            "jail_released",
            pid=self.pid,
            returncode=self._process.returncode,
            oom=self.out_of_memory(),
        )


def remove_tree(path: Path) -> None:
    """rmtree that also gets through directories the jailed program made unreadable."""

    def make_writable_and_retry(function: object, target: str, _: object) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, 0o700)
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)
