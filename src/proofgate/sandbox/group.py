"""The unjailed spawner: each process tree in its own process group, killed as a whole.

`ProcessGroupSpawner` is for development and for the sandbox to wrap; it confines nothing. It
starts the child in a new session (so its process group holds every descendant that does not
`setsid` itself), sets RLIMIT_NOFILE, RLIMIT_FSIZE and RLIMIT_CORE before exec, kills the group with
SIGKILL, and watches the tree's private memory: RssAnon of every process, never plain RSS, which
counts the mmapped Mathlib oleans that all workers share through the page cache. RLIMIT_AS is not
used: Lean reserves far more address space than it touches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from proofgate.exceptions import SpawnFailed
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from proofgate.ticks import grid_delay, sleep_on_grid

__all__ = [
    "GroupProcess",
    "ProcessGroupSpawner",
    "next_memory_poll",
    "tree_members",
    "tree_private_memory",
]

#: Seconds between two looks at a tree's private memory while it changes. A steady tree (an idle
#: worker) is looked at half as often each time, down to once every `MEMORY_POLL_MAX_SECONDS`: nine
#: idle workers polled five times a second were most of an idle server's CPU. While a command runs,
#: the REPL driver looks as well, every `repl.MEMORY_POLL_SECONDS`.
MEMORY_POLL_SECONDS = 0.2
MEMORY_POLL_MAX_SECONDS = 1.0
#: A change in private memory smaller than this between two looks counts as steady.
MEMORY_STEADY_BYTES = 4 * 2**20
#: Seconds between two looks at whether the process exited without a pidfd (`GroupProcess.wait`).
EXIT_POLL_SECONDS = 0.05
#: Seconds a tree's list of members is reused. Finding descendants reads every process's /proc
#: entry (over a millisecond on a quiet host, more on a busy one), while each member's RssAnon is
#: one small read; a child started since the last look is counted within this delay.
MEMBERS_REFRESH_SECONDS = 1.0
#: Seconds between two looks at the exit status while a pidfd watches for the exit (the look is
#: for a pid reused before `pidfd_open`, which the pidfd would then never report).
PIDFD_RECHECK_SECONDS = 5.0


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_anon_bytes(pid: int) -> int | None:
    """RssAnon of one process from /proc (Linux), else psutil's USS; None if it is gone.

    Read from /proc/PID/statm, one short line, as resident minus shared pages (Linux >= 4.5
    counts shared as file-backed plus shmem, so the difference is exactly status's RssAnon)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE_BYTES
    except FileNotFoundError:
        if not Path("/proc/self/status").exists():
            with contextlib.suppress(psutil.Error):
                return int(psutil.Process(pid).memory_full_info().uss)
        return None
    except (OSError, ValueError, IndexError):
        return None


class _ChildrenIndex:
    """Parent -> children of every process, from one pass over /proc shared by all trees and
    redone at most every `MEMBERS_REFRESH_SECONDS`: one scan a second, not one per worker."""

    def __init__(self) -> None:
        self._children: dict[int, list[int]] = {}
        self._listed_at = -MEMBERS_REFRESH_SECONDS

    def descendants(self, pid: int) -> list[int]:
        now = time.monotonic()
        if now - self._listed_at >= MEMBERS_REFRESH_SECONDS:
            self._children, self._listed_at = _read_children(), now
        found: list[int] = []
        pending = [pid]
        while pending:
            kids = self._children.get(pending.pop(), [])
            found += kids
            pending += kids
        return found


def _read_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or unreadable
        children.setdefault(parent, []).append(int(entry.name))
    return children


_CHILDREN = _ChildrenIndex()


def tree_members(pid: int, *, fresh: bool = True) -> list[int] | None:
    """`pid` and all its descendants (`pid` first); None if `pid` is gone. `fresh=False` may use
    a list of processes up to `MEMBERS_REFRESH_SECONDS` old (Linux)."""
    if not fresh and os.path.isdir("/proc/self/task"):
        if not psutil.pid_exists(pid):
            return None
        return [pid, *_CHILDREN.descendants(pid)]
    try:
        return [pid] + [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return None


def next_memory_poll(interval: float, last: int | None, used: int | None) -> float:
    """Seconds to the next look at a tree's memory: doubled while it holds steady (up to
    `MEMORY_POLL_MAX_SECONDS`), back to `MEMORY_POLL_SECONDS` as soon as it moves."""
    if last is None or used is None or abs(used - last) >= MEMORY_STEADY_BYTES:
        return MEMORY_POLL_SECONDS
    return min(interval * 2, MEMORY_POLL_MAX_SECONDS)


def _members_private_memory(members: list[int]) -> int | None:
    sizes = [_rss_anon_bytes(member) for member in members]
    if sizes[0] is None:
        return None
    return sum(size for size in sizes if size is not None)


def tree_private_memory(pid: int) -> int | None:
    """Private memory of `pid` and all its descendants, in bytes; None if `pid` is gone."""
    members = tree_members(pid)
    return None if members is None else _members_private_memory(members)


def _limit_setter(limits: Limits) -> Callable[[], None]:
    """What the child runs between fork and exec: cap open files, file size and core dumps."""

    def capped(kind: int, wanted: int) -> tuple[int, int]:
        _, hard = resource.getrlimit(kind)
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        return value, value

    wanted = [
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
    ]
    if not limits.core_dumps:
        wanted.append((resource.RLIMIT_CORE, 0))
    settings = [(kind, capped(kind, value)) for kind, value in wanted]

    def apply() -> None:
        for kind, pair in settings:
            resource.setrlimit(kind, pair)

    return apply


class GroupProcess:
    """A started child and its process group; implements `ManagedProcess`."""

    def __init__(self, process: asyncio.subprocess.Process, limits: Limits) -> None:
        assert process.stdin and process.stdout and process.stderr
        self._process = process
        self.pid = process.pid
        self.stdin: asyncio.StreamWriter = process.stdin
        self.stdout: asyncio.StreamReader = process.stdout
        self.stderr: asyncio.StreamReader = process.stderr
        self._limits = limits
        self._out_of_memory = False
        self._group_released = False
        self._members: list[int] = [self.pid]
        self._members_listed_at = -MEMBERS_REFRESH_SECONDS
        self._watchdog: asyncio.Task[None] | None = None
        if limits.memory_bytes is not None:
            self._watchdog = asyncio.get_running_loop().create_task(
                self._watch_memory(limits.memory_bytes), name=f"memory-watchdog-{self.pid}"
            )

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        """The exit status. Not asyncio's own `wait()`, which also waits for every pipe to close
        (never, while an orphaned grandchild holds one): a pidfd says when the process exits
        (Linux >= 5.3) without waking the loop 20 times a second per worker; else it is polled."""
        with self._exit_signal() as exited:
            while self._process.returncode is None:
                if exited is None or exited.done():  # the child watcher records it a moment later
                    await asyncio.sleep(EXIT_POLL_SECONDS)
                else:  # a look every second too, in case the pid was reused before pidfd_open
                    await asyncio.wait({exited}, timeout=grid_delay(PIDFD_RECHECK_SECONDS))
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
        task = self._watchdog
        if task is None or task.done():
            return
        try:
            current = asyncio.current_task()
        except RuntimeError:  # no running loop: nothing can be awaiting the task either
            current = None
        if task is not current:
            task.cancel()

    def private_memory_bytes(self) -> int | None:
        """RssAnon of the tree, its member list refreshed every `MEMBERS_REFRESH_SECONDS`: the
        pool asks after every request and the watchdog up to five times a second."""
        if self._process.returncode is not None:
            return None
        now = time.monotonic()
        if now - self._members_listed_at >= MEMBERS_REFRESH_SECONDS:
            members = tree_members(self.pid, fresh=False)
            if members is None:
                return None
            self._members, self._members_listed_at = members, now
        return _members_private_memory(self._members)

    def out_of_memory(self) -> bool:
        return self._out_of_memory

    async def _watch_memory(self, limit: int) -> None:
        interval, last = MEMORY_POLL_SECONDS, None
        while self._process.returncode is None:
            used = self.private_memory_bytes()
            if used is not None and used > limit:
                self._out_of_memory = True
                self.kill()
                return
            interval = next_memory_poll(interval, last, used)
            last = used
            await sleep_on_grid(interval)


class ProcessGroupSpawner:
    """Starts each process tree unjailed in its own session; `name` is "none" as doctor reports it."""

    name = "none"

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess:
        """Start `spec.argv` in `spec.cwd` with exactly `spec.env` as its environment."""
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=str(spec.cwd),
                env=dict(spec.env),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_limit_setter(limits),
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise SpawnFailed(
                f"could not start {spec.argv[0]!r} in {spec.cwd}: {exc} "
                "(check the REPL command and that `proofgate doctor` passes)"
            ) from exc
        return GroupProcess(process, limits)
