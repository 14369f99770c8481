"""The one memory watchdog: both spawners' guard of a process tree where no cgroup holds it.

The unjailed spawner (`group`) and the jail without a writable cgroup (`jail`) each start one. It
looks at the tree (`proofgate.sandbox.proctree`: RssAnon and tasks of the root and its descendants)
and kills the whole tree once its private memory, or its task count where that is capped, is over
the cap; `exceeded` then says which ("memory" or "processes"), and `out_of_memory` is true for
memory, which is how the spawner's `ManagedProcess.out_of_memory()` reports it. A tree of
independent processes (`Limits.oom_group` False: a zygote and its children) is not killed whole:
over the memory cap its largest member is, as the kernel's OOM killer would pick it, over the
task cap the member with the most threads, and the watch goes on; `memory_kills` counts the
kills for memory either way.

Schedule: every `fastest` seconds while the tree moves (its private memory changed by
`STEADY_BYTES` or more, or its task count changed, since the last look); each look at a steady tree
doubles the wait, up to `slowest`, and the first look that sees it move goes back to `fastest`. Nine
idle workers looked at five or ten times a second each were most of an idle server's CPU; with the back-off
an idle server looks once a second, and the looks wait on one grid of the loop's clock
(`proofgate.ticks`), so they share one pass of the loop and one look at /proc. The watchdog is
reactive: a tree that starts allocating or forking after idling can overshoot for up to `slowest`
before the kill (while a command runs, the REPL driver also looks at the memory, every 0.25 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psutil

from proofgate.logs import get_logger
from proofgate.sandbox.proctree import ProcessTree, TreeSample
from proofgate.ticks import grid_delay

__all__ = ["POLL_MAX_SECONDS", "POLL_SECONDS", "STEADY_BYTES", "Watchdog", "next_poll"]

#: Seconds between two looks at a tree that moves (a spawner may look more often).
POLL_SECONDS = 0.2
#: The longest wait between two looks, reached while the tree holds steady.
POLL_MAX_SECONDS = 1.0
#: A change in private memory smaller than this between two looks counts as steady.
STEADY_BYTES = 4 * 2**20

_log = get_logger(__name__)


def next_poll(
    interval: float,
    last: TreeSample | None,
    now: TreeSample | None,
    *,
    fastest: float = POLL_SECONDS,
    slowest: float = POLL_MAX_SECONDS,
) -> float:
    """Seconds to the next look: doubled while the tree holds steady (up to `slowest`), back to
    `fastest` as soon as its private memory or its task count moves (or a look saw nothing)."""
    if (
        last is None
        or now is None
        or now.tasks != last.tasks
        or abs(now.private_bytes - last.private_bytes) >= STEADY_BYTES
    ):
        return fastest
    return min(interval * 2, slowest)


class Watchdog:
    """Looks at one process tree on the back-off schedule and kills it over a cap (see the module)."""

    def __init__(
        self,
        tree: ProcessTree,
        *,
        kill: Callable[[], None],
        memory_bytes: int | None,
        max_tasks: int | None = None,
        fastest: float = POLL_SECONDS,
        slowest: float = POLL_MAX_SECONDS,
        oom_group: bool = True,
    ) -> None:
        self.tree = tree
        self._kill = kill
        self._memory_bytes = memory_bytes
        self._max_tasks = max_tasks
        self._fastest = fastest
        self._slowest = max(slowest, fastest)
        self._interval = fastest
        self._last: TreeSample | None = None
        #: "memory" or "processes" once the watchdog killed the tree for going over that cap.
        self.exceeded: str | None = None
        #: Kills for memory: the tree's (at most one), or each largest member's (`oom_group` False).
        self.memory_kills = 0
        #: Members killed for holding the most threads over the task cap (`oom_group` False).
        self.task_kills = 0
        self._oom_group = oom_group
        self._members_killed: set[psutil.Process] = set()

    @property
    def out_of_memory(self) -> bool:
        return self.exceeded == "memory"

    def look(self) -> float:
        """Look once, kill the tree if it is over a cap; the seconds to wait before the next look.

        A look that fails is logged and retried at the fastest pace: it never ends the watch."""
        return self._judge(self._sample())

    def _sample(self) -> TreeSample | None:
        """Read the tree from /proc (or its cgroup): no state of the watchdog's is touched, so
        `run` does it in a thread."""
        try:
            return self.tree.look()
        except Exception as exc:  # noqa: BLE001 - a failed look must not end the watch
            _log.error("watchdog_look_failed", pid=self.tree.root, error=repr(exc))
            return None

    def _judge(self, sample: TreeSample | None) -> float:
        """Kill the tree if `sample` is over a cap (on the loop: the kill signals through the
        process's asyncio transport); the seconds to wait before the next look."""
        if sample is not None and not sample.members:
            sample = None  # the tree is gone
        if sample is not None and self.exceeded is None:
            if self._memory_bytes is not None and sample.private_bytes > self._memory_bytes:
                if self._oom_group:
                    self._exceed("memory", sample)
                else:
                    self._kill_largest(sample, "memory")
            elif self._max_tasks is not None and sample.tasks > self._max_tasks:
                if self._oom_group:
                    self._exceed("processes", sample)
                else:
                    self._kill_largest(sample, "processes")
        self._interval = next_poll(
            self._interval, self._last, sample, fastest=self._fastest, slowest=self._slowest
        )
        self._last = sample
        return self._interval

    async def run(
        self, *, stopped: Callable[[], bool], exited: asyncio.Future[Any] | None = None
    ) -> None:
        """Look until `stopped()` or the tree was killed over a cap. Waits on the grid, and with
        `exited` (a future done when the process exits) wakes at once when it is done."""
        while not stopped() and self.exceeded is None:
            # A walk of /proc takes milliseconds under load: it runs in a thread, off the loop.
            sample = await asyncio.to_thread(self._sample)
            if stopped():
                return
            delay = grid_delay(self._judge(sample))
            if self.exceeded is not None or (exited is not None and exited.done()):
                return
            if exited is None:
                await asyncio.sleep(delay)
            else:
                await asyncio.wait({exited}, timeout=delay)

    def _exceed(self, what: str, sample: TreeSample) -> None:
        self.exceeded = what
        _log.warning(
            "limit_exceeded",
            pid=self.tree.root,
            limit=what,
            private_bytes=sample.private_bytes,
            tasks=sample.tasks,
        )
        if what == "memory":
            self.memory_kills += 1
        self._kill()

    def _kill_largest(self, sample: TreeSample, what: str) -> None:
        """Kill the member holding the most of `what` ("memory": private memory, as the kernel
        picks a process in a cgroup that is not killed as a group; "processes": threads), once:
        a dying one is not counted again."""
        held = sample.private_by_pid if what == "memory" else sample.tasks_by_pid
        pid = max(held, key=held.__getitem__)
        process = sample.members[pid]
        living = set(sample.members.values())
        self._members_killed &= living  # only the ones still dying are remembered
        if process in self._members_killed:
            return
        self._members_killed.add(process)
        if what == "memory":
            self.memory_kills += 1
        else:
            self.task_kills += 1
        _log.warning(
            "limit_exceeded",
            pid=self.tree.root,
            limit=what,
            killed=pid,
            private_bytes=sample.private_bytes,
            tasks=sample.tasks,
        )
        with contextlib.suppress(psutil.Error):
            process.kill()  # psutil checks the pid is still this process
