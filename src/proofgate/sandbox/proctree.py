"""A process tree seen from /proc: its members, their private memory and tasks, and killing them.

The sandbox's fallback when no cgroup is writable: an RSS watchdog. It sums `RssAnon` (private,
anonymous memory), not RSS, which also counts the shared, mmapped Mathlib oleans. Members are kept
as `psutil.Process` objects, whose identity includes the start time, so a PID the kernel has since
reused for an unrelated process is never signalled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

__all__ = ["TreeSample", "kill_members", "living", "sample_tree"]


@dataclass(frozen=True)
class TreeSample:
    """One look at a process tree: the root and every descendant alive at that moment."""

    members: dict[int, psutil.Process] = field(default_factory=dict)
    tasks: int = 0  # processes plus their threads (what a pids cgroup would count)
    private_bytes: int = 0  # sum of RssAnon


def _status(pid: int) -> tuple[int, int]:
    """(RssAnon bytes, threads) of one process; (0, 0) when it is gone or a zombie."""
    rss_anon = threads = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    rss_anon = int(line.split()[1]) * 1024  # reported in kB
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0, 0
    return rss_anon, threads


def sample_tree(root_pid: int) -> TreeSample:
    """The tree under `root_pid` (root included) now; empty when the root is gone."""
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return TreeSample()
    members: dict[int, psutil.Process] = {}
    tasks = private = 0
    for process in processes:
        rss_anon, threads = _status(process.pid)
        members[process.pid] = process
        tasks += max(threads, 1)
        private += rss_anon
    return TreeSample(members, tasks, private)


def living(members: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The members that are still the very processes they were (not zombies, not reused PIDs)."""
    alive = []
    for process in members:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.Error:
            continue
    return alive


def kill_members(members: Iterable[psutil.Process]) -> int:
    """SIGKILL every member still alive; returns how many were signalled. Never raises."""
    sent = 0
    for process in members:
        try:
            process.kill()  # psutil checks the start time first: a reused PID is left alone
            sent += 1
        except psutil.Error:
            continue
    return sent
