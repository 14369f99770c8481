"""The host's side of a zygote's children (`proofgate.lean.zygote`): each child's pid on the
host, the cgroup it is moved into before its request (where the zygote's jail nests them), and
the look at its private memory on the watchdogs' schedule."""

from __future__ import annotations

import asyncio
import contextlib

import psutil

from proofgate.logs import get_logger
from proofgate.sandbox.cgroups import Cgroup
from proofgate.sandbox.process import ManagedProcess
from proofgate.sandbox.proctree import TreeSample, host_pid_in_tree, innermost_pid, rss_anon_bytes
from proofgate.sandbox.watchdog import POLL_SECONDS, next_poll

__all__ = ["ChildrenOnHost"]

_log = get_logger("proofgate.zygote")


class ChildrenOnHost:
    """One zygote's children as the host sees them; `zygote` is its jailed tree."""

    def __init__(self, zygote: ManagedProcess, *, remove_timeout: float) -> None:
        self.zygote = zygote
        self._host: int | None = None  # the zygote's pid on the host, once a child showed it
        self._remove_timeout = remove_timeout
        self._removing: set[asyncio.Future[bool]] = set()  # children's cgroups, being removed

    async def host_pid(self, pid: int) -> int | None:
        """The host's pid of the child `pid` (as the zygote sees it), or None if it is gone."""
        host = self._listed(pid)
        if host is None:  # the first child, or the zygote's pid went stale: look at the tree
            host = await asyncio.to_thread(host_pid_in_tree, self.zygote.pid, pid)
            with contextlib.suppress(psutil.Error):
                self._host = psutil.Process(host).ppid() if host is not None else None
        return host

    def _listed(self, pid: int) -> int | None:
        """The host's pid of the child `pid`, from the zygote's own list of children (two short
        reads, once the zygote's host pid is known), or None."""
        if self._host is None:
            return None
        try:
            with open(f"/proc/{self._host}/task/{self._host}/children", "rb") as listed:
                children = [int(c) for c in listed.read().split()]
        except (OSError, ValueError):
            return None
        return next((c for c in children if innermost_pid(c) == pid), None)

    def confine(
        self, host: int, *, memory_bytes: int | None, max_tasks: int | None
    ) -> Cgroup | None:
        """The child `host` moved into a cgroup of its own (its request not yet written: it has
        run nothing of it), or None where the jail nests none."""
        try:
            return self.zygote.confine(host, memory_bytes=memory_bytes, max_tasks=max_tasks)
        except OSError as exc:  # gone (its request's write then says so), or the kernel refused
            _log.warning("zygote_child_not_confined", pid=host, error=str(exc))
            return None

    def remove(self, member: Cgroup) -> None:
        """Remove a child's cgroup: at once when it is empty (its exit reported), else in a
        thread that kills what is left first (a caller gone before its child ended)."""
        if member.remove_now():
            return
        removing = asyncio.ensure_future(
            asyncio.to_thread(member.remove, timeout=self._remove_timeout)
        )
        self._removing.add(removing)
        removing.add_done_callback(self._removing.discard)

    async def past_memory(self, host: int, cap: int) -> None:
        """Returns once the child `host` (its host pid) holds more than `cap` bytes of private
        memory; never returns once it is gone."""
        interval, last = POLL_SECONDS, None
        while True:  # on the watchdogs' schedule: faster while it moves
            used = rss_anon_bytes(host)
            if used is None:
                break  # gone: its exit report ends the wait
            if used > cap:
                return
            now = TreeSample(tasks=1, private_bytes=used)
            interval, last = next_poll(interval, last, now), now
            await asyncio.sleep(interval)
        await asyncio.get_running_loop().create_future()

    async def close(self) -> None:
        """Wait for the cgroups being removed."""
        await asyncio.gather(*self._removing, return_exceptions=True)
