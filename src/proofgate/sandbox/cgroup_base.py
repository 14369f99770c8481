"""What every cgroup of proofgate's is, under v1 or v2: one process tree's `Cgroup`, and the
`CgroupTree` that makes them (`proofgate.sandbox.cgroups` finds the tree; the versions'
classes are in `proofgate.sandbox.cgroup_versions`)."""

from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from proofgate.logs import get_logger

__all__ = [
    "NAME_PREFIX",
    "Cgroup",
    "CgroupTree",
    "control_fields",
    "pids_listed",
    "read_control",
    "write_control",
]

#: Every cgroup proofgate creates is named `proofgate-<service pid>-<random>`.
NAME_PREFIX = "proofgate-"

_log = get_logger("proofgate.sandbox.cgroups")


def read_control(path: Path) -> str:
    """A cgroup file's text, through one open and read (no text-mode stream: these files are
    read several times a second per jail)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", errors="replace")


def write_control(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)  # as `>` does
    try:
        os.write(fd, value.encode("ascii"))
    finally:
        os.close(fd)


def control_fields(path: Path) -> dict[str, int]:
    """Parse `key value` lines (memory.stat, memory.events, memory.oom_control, pids.events)."""
    result: dict[str, int] = {}
    try:
        text = read_control(path)
    except OSError:
        return result
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            result[key] = int(value.strip())
        except ValueError:
            continue
    return result


def pids_listed(path: Path) -> set[int]:
    try:
        text = read_control(path)
    except OSError:
        return set()
    return {int(word) for word in text.split() if word.isdigit()}


def kill_each(pids: set[int]) -> int:
    """SIGKILL each pid; never 0, 1 or this process (a fake tree may list anything)."""
    own = os.getpid()
    sent = 0
    for pid in pids:
        if pid <= 1 or pid == own:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            sent += 1
        except (ProcessLookupError, PermissionError):
            continue
    return sent


def rmdir_when_empty(path: Path, deadline: float) -> bool:
    """rmdir a cgroup, retrying while the kernel still tears its last tasks down (EBUSY)."""
    while True:
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                _log.warning("cgroup_not_removed", path=str(path), error=str(exc))
                return False
        time.sleep(0.01)


class Cgroup(ABC):
    """One process tree's cgroup. Every method but `set_limits` is best-effort and never raises."""

    name: str
    #: Whether cgroups were nested below it (`prepare_nesting`, `nest`): its readers walk them.
    nests: bool = False

    @abstractmethod
    def join_files(self) -> tuple[Path, ...]:
        """Files a process writes "0" into to move itself into this cgroup."""

    @abstractmethod
    def set_limits(
        self, *, memory_bytes: int | None, max_tasks: int | None, oom_group: bool = True
    ) -> None:
        """Cap memory (bytes) and tasks (processes and threads); None leaves it uncapped.
        `oom_group`: an OOM kill takes every process of the cgroup (v2; v1 kills one)."""

    @abstractmethod
    def private_memory_bytes(self) -> int | None:
        """Anonymous memory charged to the cgroup (not the page cache of mmapped files)."""

    @abstractmethod
    def oom_kills(self) -> int:
        """How many OOM kills the kernel has recorded here (a count that only grows)."""

    def oom_killed(self) -> bool:
        """True once the kernel killed a process here for going over the memory cap."""
        return self.oom_kills() > 0

    @abstractmethod
    def _directories(self) -> tuple[Path, ...]: ...

    @abstractmethod
    def task_cap_hits(self) -> int:
        """How often a fork or a new thread here failed at `pids.max` (a count that only grows)."""

    def prepare_nesting(self) -> None:
        """Make room for `nest`, before any process joins."""
        self.nests = True  # v1 nests as it is

    @abstractmethod
    def nest(self, name: str) -> Cgroup:
        """Make a cgroup below this one, its caps within this one's (raises OSError)."""

    def move(self, pid: int) -> None:
        """Move the process `pid` (all its threads) here; raises OSError (ESRCH: it is gone)."""
        for path in self.join_files():
            write_control(path, str(pid))

    def _subtree(self) -> list[Path]:
        """Every directory of the cgroup, the nested cgroups' before their parent's (rmdir's
        order); none once the cgroup is gone."""
        found: list[Path] = []
        for top in self._directories():
            found.extend(Path(d) for d, _, _ in os.walk(top, topdown=False))
        return found

    def _counted(self) -> Sequence[Path]:
        """The directories whose processes are the cgroup's: the nested cgroups' too once it
        nests (a walk; every other cgroup is read without one, as a REPL worker's after each
        command)."""
        return self._subtree() if self.nests else self._directories()

    def pids(self) -> set[int]:
        """Host PIDs of the processes in the cgroup now, nested cgroups' included."""
        return _listed_in(self._counted())

    def _every_pid(self) -> set[int]:
        """`pids`, nested cgroups looked for whether or not this object made them (a kill, or the
        removal of a cgroup a service that died left)."""
        return _listed_in(self._subtree())

    def signal_all(self) -> int:
        """SIGKILL every process in the cgroup once; returns how many were signalled."""
        return kill_each(self._every_pid())

    def kill(self, *, timeout: float = 5.0) -> bool:
        """SIGKILL until the cgroup is empty (a fork racing the kill is caught by the next pass)."""
        deadline = time.monotonic() + timeout
        while True:
            pids = {pid for pid in self._every_pid() if pid > 1 and pid != os.getpid()}
            if not pids:
                return True
            kill_each(pids)
            if time.monotonic() > deadline:
                _log.warning("cgroup_not_emptied", cgroup=self.name, pids=sorted(pids)[:20])
                return False
            time.sleep(0.01)

    def is_empty(self) -> bool:
        """True when no process is in the cgroup (nested ones included); raises OSError when that
        cannot be read."""
        if any(read_control(path).split() for path in self.join_files()):
            return False
        return not any(read_control(d / "cgroup.procs").split() for d in self._counted())

    def remove_now(self) -> bool:
        """rmdir the cgroup once, without killing or waiting (for an empty cgroup, on the event
        loop); False when the kernel refused (its last tasks still leaving): `remove` then."""
        for path in self._subtree():
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return True

    def remove(self, *, timeout: float = 5.0) -> bool:
        """Kill what is left and rmdir the cgroup; True when it is gone."""
        deadline = time.monotonic() + timeout
        self.kill(timeout=timeout)
        # a list, not a generator: every directory is tried even when one fails
        return all([rmdir_when_empty(path, deadline) for path in self._subtree()])  # noqa: C419


def _listed_in(directories: Sequence[Path]) -> set[int]:
    found: set[int] = set()
    for directory in directories:
        found |= pids_listed(directory / "cgroup.procs")
    return found


class CgroupTree(ABC):
    """Where new cgroups are made: one cgroup v2 parent, or a memory and a pids parent in v1."""

    version: int

    @abstractmethod
    def create(self, name: str | None = None) -> Cgroup:
        """Make a new, empty cgroup (raises OSError when the kernel refuses)."""

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def _parents(self) -> tuple[Path, ...]: ...

    @staticmethod
    def new_name() -> str:
        return f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"

    def remove_stale(self) -> int:
        """Remove cgroups left by proofgate services that died; returns how many went."""
        removed = 0
        seen: set[str] = set()
        for parent in self._parents():
            try:
                entries = [entry for entry in parent.iterdir() if entry.is_dir()]
            except OSError:
                continue
            for entry in entries:
                owner = entry.name.removeprefix(NAME_PREFIX).partition("-")[0]
                if (
                    not entry.name.startswith(NAME_PREFIX)
                    or not owner.isdigit()
                    or entry.name in seen
                ):
                    continue
                if int(owner) == os.getpid() or Path(f"/proc/{owner}").exists():
                    continue
                seen.add(entry.name)
                if self.open(entry.name).remove(timeout=1.0):
                    removed += 1
        if removed:
            _log.info("cgroups_stale_removed", count=removed)
        return removed

    @abstractmethod
    def open(self, name: str) -> Cgroup:
        """The cgroup called `name` under this tree, without creating it."""
