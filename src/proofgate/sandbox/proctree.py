"""A process tree seen from /proc: its members, their private memory and tasks, and killing them.

The one reader of process trees for both spawners: the unjailed one (`group`) and the jail without a
writable cgroup (`jail`) watch a tree through it (`proofgate.sandbox.watchdog`), and the jail kills
and outwaits every process it ever saw through it.

- A tree is its root and every process descended from it by parent at the moment of a scan. (An
  orphan is adopted by the nearest subreaper: in a jail the namespace's init, inside the tree; for
  the unjailed spawner usually the host's init, so a daemonized grandchild leaves the tree.)
- Private memory is `RssAnon` (anonymous, resident), never RSS, which also counts the shared, mmapped
  Mathlib oleans. It is read from /proc/PID/statm, one short line, as resident minus shared pages:
  Linux >= 4.5 counts shared as file-backed plus shmem, so the difference is exactly status's
  RssAnon, for a fraction of the cost of rendering /proc/PID/status.
- Tasks are processes plus their threads, what a pids cgroup counts.
- A process's pid in each PID namespace it is in (`NSpid`), and the host's pid of a tree member
  known by its pid inside a jail (`host_pid_in_tree`): how the zygote's watchdog finds a child.

Where the kernel lists each thread's children (/proc/PID/task/TID/children), a tree is read from
its own processes' lists alone: what a look costs grows with the tree, never with the host (the
REPL driver's stray check after every command used to scan the whole of /proc). Elsewhere finding
descendants needs every process's parent. A full scan reads every /proc/PID/stat (a
millisecond or more on a busy host), so it is made at most once every `FULL_SCAN_SECONDS`; in between
an update lists /proc and reads only the processes that appeared and the children of those that
vanished. Every look at a tree (`ProcessTree.look`, what the watchdog does, and
`ProcessTree.private_memory_bytes`, what the pool and the REPL driver ask) sees the processes of its
moment that way, and looks in the same pass of the loop (the watchdogs wake on one grid of its clock)
share one update (`SCAN_SHARED_SECONDS`). Members are kept as `psutil.Process` objects, whose
identity includes the start time, so a PID the kernel has since reused for an unrelated process is
never signalled.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

__all__ = [
    "FULL_SCAN_SECONDS",
    "SCAN_SHARED_SECONDS",
    "Baseline",
    "ProcessTree",
    "TreeSample",
    "host_pid_in_tree",
    "innermost_pid",
    "kill_members",
    "living",
    "namespace_pids",
    "rss_anon_bytes",
    "sample_tree",
]

#: A look at a tree uses the process table as /proc was at most this long ago: less than any
#: watchdog's interval, so each look sees the processes of its own moment, yet every tree looked at
#: in the same pass of the loop shares one update.
SCAN_SHARED_SECONDS = 0.05
#: Seconds between two full scans of /proc (each process's stat); in between, only new processes
#: and the children of vanished ones are read.
FULL_SCAN_SECONDS = 1.0

_PROC = os.path.exists("/proc/self/statm")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class TreeSample:
    """One look at a process tree: the root and every descendant alive at that moment."""

    members: dict[int, psutil.Process] = field(default_factory=dict)
    tasks: int = 0  # processes plus their threads (what a pids cgroup would count)
    private_bytes: int = 0  # sum of RssAnon
    private_by_pid: dict[int, int] = field(default_factory=dict)  # each member's RssAnon
    tasks_by_pid: dict[int, int] = field(default_factory=dict)  # each member's threads


def rss_anon_bytes(pid: int) -> int | None:
    """RssAnon of one process (0 for a zombie), psutil's USS where there is no /proc; None if gone."""
    if not _PROC:
        try:
            return int(psutil.Process(pid).memory_full_info().uss)
        except psutil.Error:
            return None
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class _Entry:
    parent: int
    threads: int
    started: float  # start time (clock ticks since boot, or psutil's create time): with the pid, an identity


def _read_entry(pid: int) -> _Entry | None:
    """Parent, threads and start time of one process from /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # after the command's name
        # fields[0] is stat's 3rd field (state): ppid is the 4th, num_threads the 20th, starttime
        # the 22nd
        return _Entry(int(fields[1]), int(fields[17]), float(fields[19]))
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile, or unreadable


def _scan() -> dict[int, _Entry]:
    """Parent, threads and start time of every process on the host."""
    entries: dict[int, _Entry] = {}
    if not _PROC:
        for process in psutil.process_iter(["ppid", "num_threads", "create_time"]):
            info = process.info
            if info.get("ppid") is not None:
                threads, created = info.get("num_threads") or 1, info.get("create_time") or 0.0
                entries[process.pid] = _Entry(info["ppid"], threads, created)
        return entries
    for name in os.listdir("/proc"):
        if name.isdigit() and (entry := _read_entry(int(name))) is not None:
            entries[int(name)] = entry
    return entries


class _ProcessTable:
    """Every process's parent, shared by every tree: a full scan of /proc at most once every
    `FULL_SCAN_SECONDS`, and in between an update that lists /proc and reads the stat of only the
    processes that appeared since and of the children of those that vanished (whose parent changed:
    a process's parent changes only when its parent exits). The full scan also catches a pid that
    was reused between two updates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._children: dict[int, list[int]] = {}
        self._updated_at = self._scanned_at = float("-inf")

    def get(self, max_age: float, *, full: bool = False) -> dict[int, list[int]]:
        """Each process's children, as of a look at /proc at most `max_age` seconds old; with
        `full`, from a full scan made now."""
        with self._lock:
            now = time.monotonic()
            if not full and now - self._updated_at <= max_age:
                return self._children
            if full or not _PROC or now - self._scanned_at >= FULL_SCAN_SECONDS:
                entries, self._scanned_at = _scan(), now
            else:
                entries = self._update()
            children: dict[int, list[int]] = {}
            for pid, entry in entries.items():
                children.setdefault(entry.parent, []).append(pid)
            self._entries, self._children, self._updated_at = entries, children, now
            return children

    def started(self, pid: int) -> float | None:
        """The start time the last update read for `pid` (None if it did not list it)."""
        with self._lock:
            entry = self._entries.get(pid)
        return None if entry is None else entry.started

    def _update(self) -> dict[int, _Entry]:
        listed = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        entries = {pid: entry for pid, entry in self._entries.items() if pid in listed}
        changed = listed - entries.keys()
        for gone in self._entries.keys() - listed:
            changed.update(self._children.get(gone, ()))
        for pid in changed & listed:
            entry = _read_entry(pid)
            if entry is None:
                entries.pop(pid, None)
            else:
                entries[pid] = entry
        return entries


_TABLE = _ProcessTable()

#: Whether the kernel lists each thread's children (/proc/PID/task/TID/children, CONFIG_PROC_CHILDREN):
#: then a tree is read from its own processes alone, never from a scan of the whole host.
_CHILDREN_FILES = _PROC and os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _children_of(pid: int) -> list[int]:
    """Every child of `pid` (the children of each of its threads); empty when it is gone."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as listing:
                found.extend(int(word) for word in listing.read().split())
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
    return found


def _walk(root: int) -> list[int]:
    """`root`'s descendants now, read from the children lists of the tree's own processes."""
    found: list[int] = []
    pending, visited = [root], {root}
    while pending:
        for child in _children_of(pending.pop()):
            if child not in visited:
                visited.add(child)
                found.append(child)
                pending.append(child)
    return found


def _tree_pids(root: int, *, full: bool = False) -> list[int]:
    """The root and its descendants: from the tree's own children lists where the kernel has
    them, else from the shared process table (`full`: a full scan made now)."""
    if _CHILDREN_FILES:
        return [root, *_walk(root)]
    return [root, *_descendants(root, _TABLE.get(SCAN_SHARED_SECONDS, full=full))]


def _descendants(root: int, children: dict[int, list[int]]) -> list[int]:
    found: list[int] = []
    pending, visited = [root], {root}
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in visited:  # a pid reused during the scan cannot make a cycle
                visited.add(child)
                found.append(child)
                pending.append(child)
    return found


class ProcessTree:
    """One process tree looked at over time: its members now, and every member it ever had."""

    def __init__(self, root: int) -> None:
        self.root = root
        #: By (pid, start time); the root's start time is None: it is the caller's own child, whose
        #: pid cannot be reused before the caller reaps it.
        self._identities: dict[tuple[int, float | None], psutil.Process] = {}

    @property
    def seen(self) -> list[psutil.Process]:
        """Every process any look found in the tree (the root first), by identity."""
        return list(self._identities.values())

    def look(self, *, full: bool = False) -> TreeSample:
        """The tree now: its members as of a look at /proc at most `SCAN_SHARED_SECONDS` old (with
        `full`, a full scan made now), their memory and threads read now. Empty once the root is
        gone."""
        members: dict[int, psutil.Process] = {}
        sizes: dict[int, int] = {}
        threads: dict[int, int] = {}
        for pid in _tree_pids(self.root, full=full):
            size = rss_anon_bytes(pid)
            entry = _read_entry(pid) if _PROC else None
            process = self._identify(pid, None if pid == self.root or not entry else entry.started)
            if size is None or process is None:
                if pid == self.root:
                    return TreeSample()
                continue  # gone meanwhile
            members[pid] = process
            threads[pid] = max(entry.threads if entry else _threads(process), 1)
            sizes[pid] = size
        return TreeSample(members, sum(threads.values()), sum(sizes.values()), sizes, threads)

    def private_memory_bytes(self) -> int | None:
        """RssAnon of the tree now (its members as of a look at /proc at most
        `SCAN_SHARED_SECONDS` old); None once the root is gone."""
        sizes = [rss_anon_bytes(pid) for pid in _tree_pids(self.root)]
        if sizes[0] is None:
            return None
        return sum(size for size in sizes if size is not None)

    def _identify(self, pid: int, started: float | None) -> psutil.Process | None:
        known = self._identities.get((pid, started))
        if known is not None:
            return known
        with contextlib.suppress(psutil.Error):
            self._identities[(pid, started)] = psutil.Process(pid)
            return self._identities[(pid, started)]
        return None


class Baseline:
    """The processes that belong to a long-lived tree (a REPL worker): the root, the path to the
    program, the program. Marked once the program is known to be idle and no submission code has
    run (after its header import); after each command, every other process in the tree (zombies
    too) is a stray, killed and counted.

    Identities are (pid, start time), so a pid reused by a stray is a stray. A jail's tree holds
    every process of its PID namespace (an orphan is adopted by the namespace's init, inside the
    tree), so a daemon that `setsid`s or double-forks stays in view; unjailed, such a daemon is
    adopted by the host's init and leaves the tree (the unjailed spawner confines nothing).

    `members`, when the caller knows them, are every process of the tree: a jail's cgroup, which
    its root joined before it ran anything and which no process in the jail can leave (no cgroup
    file system is writable there). Then the tree is read from them alone, a few small files; else
    from a full scan of /proc, which reads every process on the host."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._members: set[tuple[int, float | None]] = set()
        self.marked = False

    def _now(self, members: Iterable[int] | None = None) -> set[tuple[int, float | None]]:
        if members is None and _CHILDREN_FILES:
            members = _tree_pids(self.root)
        if members is not None:
            return {(pid, e.started) for pid in members if (e := _read_entry(pid)) is not None}
        children = _TABLE.get(0.0, full=True)
        found = set()
        for pid in {self.root, *_descendants(self.root, children)}:
            started = _TABLE.started(pid)
            if started is None and _PROC:
                entry = _read_entry(pid)  # not in the scan: a pid from a cgroup, say
                if entry is None:
                    continue
                started = entry.started
            found.add((pid, started))
        return found

    def mark(self, members: Iterable[int] | None = None) -> None:
        """Record the tree's processes now (`members`, if known) as the ones that belong to it."""
        self._members = self._now(members)
        self.marked = True

    def strays(self, members: Iterable[int] | None = None) -> list[int]:
        """Pids in the tree (`members`, if known) now that are not in the baseline, zombies
        included; empty until `mark`."""
        if not self.marked:
            return []
        return sorted(pid for pid, started in self._now(members) - self._members)

    def kill_strays(self, members: Iterable[int] | None = None) -> int:
        """SIGKILL every stray (each checked by start time first); returns how many there were."""
        strays = self.strays(members)
        own = os.getpid()
        victims = []
        for pid in strays:
            if pid > 1 and pid != own:
                with contextlib.suppress(psutil.Error):
                    victims.append(psutil.Process(pid))
        kill_members(victims)
        return len(strays)


def _threads(process: psutil.Process) -> int:
    try:
        return int(process.num_threads())
    except psutil.Error:
        return 1


def sample_tree(root_pid: int) -> TreeSample:
    """The tree under `root_pid` (root included) from a full scan made now; empty when the root is
    gone."""
    return ProcessTree(root_pid).look(full=True)


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


def host_pid_in_tree(root: int, pid: int) -> int | None:
    """The host's pid of the process of the tree under `root` that is `pid` in the deepest PID
    namespace of that tree (a jail's), or None. Unjailed the two are the same."""
    found: list[tuple[int, int]] = []  # (namespace depth, host pid)
    for member in ProcessTree(root).look().members:
        pids = namespace_pids(member)
        if pids and pids[-1] == pid:
            found.append((len(pids), member))
    return max(found)[1] if found else None


def namespace_pids(host: int) -> list[int]:
    """A process's pid in each PID namespace it is in, the host's first (`NSpid`); [] if gone."""
    try:
        with open(f"/proc/{host}/status", "rb") as status:
            line = next(x for x in status if x.startswith(b"NSpid:"))
        return [int(x) for x in line.split()[1:]]
    except (OSError, StopIteration, ValueError):
        return []


def innermost_pid(host: int) -> int | None:
    """A process's pid in the deepest PID namespace it is in (a jail's), or None if gone."""
    pids = namespace_pids(host)
    return pids[-1] if pids else None
