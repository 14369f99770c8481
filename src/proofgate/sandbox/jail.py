"""A running jail: the `ManagedProcess` that `BwrapSpawner` returns.

`JailedProcess` watches its limits while the jail runs (the cgroup's OOM record, or, when there is no
cgroup, the sandbox's `Watchdog` over the tree's RssAnon and task count), kills the whole namespace
on a breach or on request, and after exit kills any straggler and removes its cgroup (its /tmp is
a tmpfs of its own mount namespace: it goes with the last process inside).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import threading
import time
from pathlib import Path

from proofgate.logs import get_logger
from proofgate.sandbox.cgroups import Cgroup
from proofgate.sandbox.process import Limits, PipedProcess
from proofgate.sandbox.proctree import ProcessTree, kill_members, living
from proofgate.sandbox.spawned import SpawnedProcess
from proofgate.sandbox.watchdog import Watchdog
from proofgate.ticks import grid_delay

__all__ = ["BWRAP_OWN_TASKS", "JailedProcess", "remove_tree"]

#: bwrap's own processes in the jail's cgroup: the outer bwrap and the namespace's init.
BWRAP_OWN_TASKS = 2
#: Seconds between two looks at a cgroup-confined tree. Without a cgroup the sandbox's `Watchdog`
#: enforces the caps, looking every `poll_interval` while the tree moves, backing off to once a
#: second while it holds steady.
CGROUP_POLL_SECONDS = 5.0
#: Pauses between the looks `JailedProcess` takes on its loop for an emptied cgroup after bwrap
#: exited, before it leaves the release (kill, outwait, remove) to a thread.
RELEASE_RETRY_SECONDS = (0.001, 0.002, 0.004, 0.008)

_log = get_logger(__name__)


class JailedProcess(PipedProcess):
    """A running jail: its pipes, its limits' watcher, and a kill that takes the whole namespace."""

    def __init__(
        self,
        process: SpawnedProcess,
        *,
        limits: Limits,
        cgroup: Cgroup | None,
        poll_interval: float,
    ) -> None:
        super().__init__(process)
        #: The jail's cgroup until `_release` removed it (None after).
        self.cgroup = cgroup
        self._oom_group = limits.oom_group
        self._member_cgroups = limits.member_cgroups
        self._member_numbers = itertools.count(1)
        self._oom_kills: int | None = None  # the cgroup's count when it was removed
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
                oom_group=limits.oom_group,
            )
        self._checking: asyncio.TimerHandle | None = None
        #: Held while the cgroup is taken from `self.cgroup` to be removed: a release in a thread
        #: and one on the loop (cancelled) never both remove it.
        self._detaching = threading.Lock()
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
        if not self._supervisor.done():
            await asyncio.shield(self._supervisor)
        returncode = self._process.returncode
        assert returncode is not None
        return returncode

    def kill(self) -> None:
        """SIGKILL bwrap, every descendant and everything in the cgroup; idempotent, never raises."""
        if self._process.returncode is None:
            # A look before any signal: among the members the namespace's init, which the release
            # outwaits (under cgroup v1 it leaves the cgroup before it is done dying). Once bwrap
            # is killed, the init is no longer its child and a look would miss it.
            members = self._tree.look(full=True).members.values()
            self._kill_group()
            kill_members(members)
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()  # the namespace's init dies with it (--die-with-parent)
        else:
            self._kill_group()
        cgroup = self.cgroup  # None once released
        if cgroup is not None:
            cgroup.signal_all()

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

    def oom_kills(self) -> int | None:
        if self.watchdog is not None:
            return self.watchdog.memory_kills
        cgroup = self.cgroup  # None once released
        if cgroup is None:
            return self._oom_kills
        return cgroup.oom_kills()

    def task_kills(self) -> int:
        return 0 if self.watchdog is None else self.watchdog.task_kills

    def confine(
        self, pid: int, *, memory_bytes: int | None, max_tasks: int | None
    ) -> Cgroup | None:
        cgroup = self.cgroup  # None once released
        if cgroup is None or not self._member_cgroups:
            return None
        member = cgroup.nest(f"member-{next(self._member_numbers)}")
        try:
            member.set_limits(memory_bytes=memory_bytes, max_tasks=max_tasks)
            member.move(pid)
        except OSError:
            member.remove_now()
            raise
        return member

    def _check_cgroup(self, cgroup: Cgroup) -> None:
        """End a tree one of whose processes the kernel killed for memory (unless its processes
        are independent, `Limits.oom_group` False: then the one killed was the whole breach)."""
        if self._oom_group and self._cgroup_exceeded is None and cgroup.oom_killed():
            self._cgroup_exceeded = "memory"
            self._oom = True
            _log.warning("limit_exceeded", pid=self.pid, limit="memory", cgroup=cgroup.name)
            self.kill()

    async def _supervise(self) -> None:
        try:
            if self.watchdog is not None:  # it enforces both caps and records every member
                exited = asyncio.ensure_future(self._process.wait())
                await self.watchdog.run(stopped=exited.done, exited=exited)
                await exited
            else:
                # Under a cgroup the kernel enforces both caps and `_release` reads the OOM record
                # after the exit: the look only ends a tree whose member the kernel killed, so it
                # need not be often, and it is a timer, not a task of its own.
                self._schedule_check()
                try:
                    await self._process.wait()
                finally:
                    if self._checking is not None:
                        self._checking.cancel()
            # bwrap can exit a moment before its namespace's init is gone from the cgroup: a few
            # short looks on the loop are cheaper than a thread's round trip (and its 10 ms naps)
            released = self._release_on_loop()
            for delay in RELEASE_RETRY_SECONDS:
                if released:
                    break
                await asyncio.sleep(delay)
                released = self._release_on_loop()
            if not released:
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

    def _schedule_check(self) -> None:
        """Look at the cgroup's OOM record every CGROUP_POLL_SECONDS (on the grid) until the exit."""
        if self.cgroup is None or self._process.returncode is not None:
            return
        interval = max(self._poll_interval, CGROUP_POLL_SECONDS)
        self._checking = asyncio.get_running_loop().call_later(
            grid_delay(interval), self._scheduled_check
        )

    def _scheduled_check(self) -> None:
        self._checking = None
        cgroup = self.cgroup
        if cgroup is None or self._process.returncode is not None:
            return
        try:
            self._check_cgroup(cgroup)
        except Exception as exc:  # noqa: BLE001 - a failed look must not end the watch
            _log.error("jail_watch_failed", pid=self.pid, error=repr(exc))
        self._schedule_check()

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

    def _release_on_loop(self) -> bool:
        """`_release`'s common case, done without a thread: bwrap's group already gone, no member
        seen that could still be exiting, the cgroup empty, not killed for memory, and removed at
        the first rmdir. False when anything would need waiting for (what is left of the tree is
        signalled): `_release` then runs in a thread."""
        self._kill_group()
        if self._tree.seen and living(self._tree.seen):
            return False
        with self._detaching:
            cgroup = self.cgroup
            if cgroup is not None:
                try:
                    empty = cgroup.is_empty()
                except OSError:
                    empty = False
                kills = cgroup.oom_kills()  # one read: the record is kept once it is removed
                if not empty or (self._oom_group and kills > 0):
                    cgroup.signal_all()  # what is left is dying; a thread outwaits it if need be
                    return False
                if not cgroup.remove_now():
                    return False
                self._oom_kills, self.cgroup = kills, None
        _log.debug(
            "jail_released",
            pid=self.pid,
            returncode=self._process.returncode,
            oom=self.out_of_memory(),
        )
        return True

    def _release(self) -> None:
        """After bwrap exited: record a late OOM, kill what is left, remove the cgroup.

        Under a cgroup too, every process a look saw is outwaited: the cgroup empties while a killed
        process is still exiting (bwrap's setup child, reparented to the host's init)."""
        self._kill_group()
        with self._detaching:  # from here on, `kill` never signals it
            cgroup, self.cgroup = self.cgroup, None
        if cgroup is not None:
            self._oom_kills = cgroup.oom_kills()
            if self._oom_group and self._oom_kills > 0:
                self._oom = True
            cgroup.remove()
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
