"""Memory and task caps for one jailed process tree, in a cgroup (v1 memory+pids, or v2 unified).

`find_cgroup_tree` looks at a cgroup mount (default `/sys/fs/cgroup`, configurable so tests can
point it at a fake v2 tree) and returns a `CgroupTree` that creates one `Cgroup` per process tree,
or None with the reason when no cgroup is writable (the sandbox then falls back to an RSS watchdog).
A process joins a cgroup by writing "0" into each of `Cgroup.join_files` before it execs, so even
its first fork is counted. New cgroups are nested under the service's own cgroup, so whatever caps
the service itself runs under still hold over its jails.

A jail's cgroup can hold cgroups of its own (`Cgroup.nest`), each capping one member of the tree
within the jail's caps: a zygote's children, one per request. Under v2 the jail's own processes
then live in a leaf (`Cgroup.prepare_nesting`, before any joins), as v2 allows processes only in
cgroups that enable no controller for children. Every reader, kill and removal takes the nested
cgroups with their parent.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from abc import ABC, abstractmethod
from pathlib import Path

from proofgate.logs import get_logger

__all__ = [
    "Cgroup",
    "CgroupTree",
    "CgroupV1",
    "CgroupV1Tree",
    "CgroupV2",
    "CgroupV2Tree",
    "find_cgroup_tree",
]

DEFAULT_ROOT = Path("/sys/fs/cgroup")
#: Every cgroup proofgate creates is named `proofgate-<service pid>-<random>`.
NAME_PREFIX = "proofgate-"
#: The leaf a v2 parent's own processes move into, so that it may enable controllers for children.
SERVICE_LEAF = "proofgate-service"
#: The leaf a v2 jail's own processes join when its members get cgroups of their own.
JAIL_LEAF = "jail"

_log = get_logger(__name__)


def _read(path: Path) -> str:
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


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)  # as `>` does
    try:
        os.write(fd, value.encode("ascii"))
    finally:
        os.close(fd)


def _fields(path: Path) -> dict[str, int]:
    """Parse `key value` lines (memory.stat, memory.events, memory.oom_control, pids.events)."""
    result: dict[str, int] = {}
    try:
        text = _read(path)
    except OSError:
        return result
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            result[key] = int(value.strip())
        except ValueError:
            continue
    return result


def _pids_in(path: Path) -> set[int]:
    try:
        text = _read(path)
    except OSError:
        return set()
    return {int(word) for word in text.split() if word.isdigit()}


def _kill_each(pids: set[int]) -> int:
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


def _rmdir_when_empty(path: Path, deadline: float) -> bool:
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
        return  # v1 nests as it is

    @abstractmethod
    def nest(self, name: str) -> Cgroup:
        """Make a cgroup below this one, its caps within this one's (raises OSError)."""

    def move(self, pid: int) -> None:
        """Move the process `pid` (all its threads) here; raises OSError (ESRCH: it is gone)."""
        for path in self.join_files():
            _write(path, str(pid))

    def _subtree(self) -> list[Path]:
        """Every directory of the cgroup, the nested cgroups' before their parent's (rmdir's
        order); none once the cgroup is gone."""
        found: list[Path] = []
        for top in self._directories():
            found.extend(Path(d) for d, _, _ in os.walk(top, topdown=False))
        return found

    def pids(self) -> set[int]:
        """Host PIDs of the processes in the cgroup now, nested cgroups' included."""
        return set().union(*(_pids_in(d / "cgroup.procs") for d in self._subtree()))

    def signal_all(self) -> int:
        """SIGKILL every process in the cgroup once; returns how many were signalled."""
        return _kill_each(self.pids())

    def kill(self, *, timeout: float = 5.0) -> bool:
        """SIGKILL until the cgroup is empty (a fork racing the kill is caught by the next pass)."""
        deadline = time.monotonic() + timeout
        while True:
            pids = {pid for pid in self.pids() if pid > 1 and pid != os.getpid()}
            if not pids:
                return True
            _kill_each(pids)
            if time.monotonic() > deadline:
                _log.warning("cgroup_not_emptied", cgroup=self.name, pids=sorted(pids)[:20])
                return False
            time.sleep(0.01)

    def is_empty(self) -> bool:
        """True when no process is in the cgroup (nested ones included); raises OSError when that
        cannot be read."""
        if any(_read(path).split() for path in self.join_files()):
            return False
        return not any(_read(d / "cgroup.procs").split() for d in self._subtree())

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
        return all([_rmdir_when_empty(path, deadline) for path in self._subtree()])  # noqa: C419


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


class CgroupV1(Cgroup):
    """A pair of v1 cgroups with the same name: one in the memory, one in the pids hierarchy."""

    def __init__(self, memory_dir: Path, pids_dir: Path) -> None:
        self.name = memory_dir.name
        self.memory_dir = memory_dir
        self.pids_dir = pids_dir

    def _directories(self) -> tuple[Path, ...]:
        return (self.memory_dir, self.pids_dir)

    def join_files(self) -> tuple[Path, ...]:
        return (self.memory_dir / "cgroup.procs", self.pids_dir / "cgroup.procs")

    def set_limits(
        self, *, memory_bytes: int | None, max_tasks: int | None, oom_group: bool = True
    ) -> None:
        if memory_bytes is not None:  # v1's OOM killer takes one process whatever `oom_group`
            _write(self.memory_dir / "memory.limit_in_bytes", str(memory_bytes))
            swap = self.memory_dir / "memory.memsw.limit_in_bytes"
            if swap.exists():  # absent when swap accounting is off; then there is no swap to cap
                _write(swap, str(memory_bytes))
        _write(self.pids_dir / "pids.max", "max" if max_tasks is None else str(max_tasks))

    def task_cap_hits(self) -> int:
        return _fields(self.pids_dir / "pids.events").get("max", 0)

    def nest(self, name: str) -> CgroupV1:
        return _make_v1(CgroupV1(self.memory_dir / name, self.pids_dir / name))

    def private_memory_bytes(self) -> int | None:
        stat = _fields(self.memory_dir / "memory.stat")
        return stat.get("total_rss", stat.get("rss"))  # anonymous memory, huge pages included

    def oom_kills(self) -> int:
        control = _fields(self.memory_dir / "memory.oom_control")
        if "oom_kill" in control:  # Linux >= 4.13
            return control["oom_kill"]
        try:  # older kernels: any failure to charge under the cap is the best evidence there is
            return int(_read(self.memory_dir / "memory.failcnt"))
        except (OSError, ValueError):
            return 0


def _make_v1(cgroup: CgroupV1) -> CgroupV1:
    cgroup.memory_dir.mkdir()
    try:
        cgroup.pids_dir.mkdir()
    except OSError:
        cgroup.memory_dir.rmdir()
        raise
    return cgroup


class CgroupV1Tree(CgroupTree):
    """cgroup v1: the memory and pids controllers are separate hierarchies."""

    version = 1

    def __init__(self, memory_parent: Path, pids_parent: Path) -> None:
        self.memory_parent = memory_parent
        self.pids_parent = pids_parent

    def _parents(self) -> tuple[Path, ...]:
        return (self.memory_parent, self.pids_parent)

    def open(self, name: str) -> CgroupV1:
        return CgroupV1(self.memory_parent / name, self.pids_parent / name)

    def create(self, name: str | None = None) -> CgroupV1:
        return _make_v1(self.open(name or self.new_name()))

    def describe(self) -> str:
        return f"cgroup v1 (memory at {self.memory_parent}, pids at {self.pids_parent})"


class CgroupV2(Cgroup):
    """One cgroup in the v2 unified hierarchy."""

    def __init__(self, directory: Path) -> None:
        self.name = directory.name
        self.directory = directory
        self._leaf: Path | None = None  # where its own processes join, once it nests cgroups

    def _directories(self) -> tuple[Path, ...]:
        return (self.directory,)

    def join_files(self) -> tuple[Path, ...]:
        return ((self._leaf or self.directory) / "cgroup.procs",)

    def prepare_nesting(self) -> None:
        if self._leaf is not None:
            return
        leaf = self.directory / JAIL_LEAF
        leaf.mkdir()
        _write(self.directory / "cgroup.subtree_control", "+memory +pids")
        self._leaf = leaf

    def nest(self, name: str) -> CgroupV2:
        if self._leaf is None:  # the kernel would refuse its controllers' files
            raise OSError(errno.EINVAL, f"{self.name} does not nest cgroups (prepare_nesting)")
        nested = CgroupV2(self.directory / name)
        nested.directory.mkdir()
        return nested

    def task_cap_hits(self) -> int:
        return _fields(self.directory / "pids.events").get("max", 0)

    def set_limits(
        self, *, memory_bytes: int | None, max_tasks: int | None, oom_group: bool = True
    ) -> None:
        _write(self.directory / "memory.max", "max" if memory_bytes is None else str(memory_bytes))
        _write(self.directory / "pids.max", "max" if max_tasks is None else str(max_tasks))
        if memory_bytes is not None:
            group = "1" if oom_group else "0"
            for optional, value in (("memory.swap.max", "0"), ("memory.oom.group", group)):
                if (self.directory / optional).exists():  # no swap accounting / older kernel
                    _write(self.directory / optional, value)

    def private_memory_bytes(self) -> int | None:
        return _fields(self.directory / "memory.stat").get("anon")

    def oom_kills(self) -> int:
        events = _fields(self.directory / "memory.events")
        return events.get("oom_kill", 0) + events.get("oom_group_kill", 0)

    def signal_all(self) -> int:
        kill_file = self.directory / "cgroup.kill"  # Linux >= 5.14 kills the whole cgroup at once
        if kill_file.exists():
            try:
                _write(kill_file, "1")
            except OSError as exc:
                _log.warning("cgroup_kill_failed", cgroup=self.name, error=str(exc))
        return super().signal_all()


class CgroupV2Tree(CgroupTree):
    """cgroup v2: one parent whose `cgroup.subtree_control` enables memory and pids for children."""

    version = 2

    def __init__(self, parent: Path) -> None:
        self.parent = parent

    def _parents(self) -> tuple[Path, ...]:
        return (self.parent,)

    def open(self, name: str) -> CgroupV2:
        return CgroupV2(self.parent / name)

    def create(self, name: str | None = None) -> CgroupV2:
        cgroup = self.open(name or self.new_name())
        cgroup.directory.mkdir()
        return cgroup

    def describe(self) -> str:
        return f"cgroup v2 (memory and pids under {self.parent})"

    def enable_controllers(self) -> None:
        """Delegate memory and pids to children; raises OSError with the reason when it cannot.

        v2 forbids a cgroup with processes from enabling controllers for its children (EBUSY), so
        the parent's own processes (the service, in a container usually PID 1) move into a leaf.
        """
        wanted = {"memory", "pids"}
        available = set(_read(self.parent / "cgroup.controllers").split())
        if not wanted <= available:
            raise OSError(
                errno.ENOTSUP,
                f"controllers {sorted(wanted - available)} are not delegated to {self.parent}",
            )
        enabled = {
            word.lstrip("+") for word in _read(self.parent / "cgroup.subtree_control").split()
        }
        if wanted <= enabled:
            return
        request = " ".join(f"+{name}" for name in sorted(wanted))
        try:
            self._write_subtree_control(request)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            self._move_own_processes_to_leaf()
            self._write_subtree_control(request)

    def _write_subtree_control(self, request: str) -> None:
        _write(self.parent / "cgroup.subtree_control", request)

    def _move_own_processes_to_leaf(self) -> None:
        leaf = self.parent / SERVICE_LEAF
        leaf.mkdir(exist_ok=True)
        moved = 0
        for pid in sorted(_pids_in(self.parent / "cgroup.procs")):
            try:
                _write(leaf / "cgroup.procs", str(pid))
                moved += 1
            except OSError:  # gone meanwhile, or a kernel thread
                continue
        _log.info("cgroup_processes_moved", leaf=str(leaf), count=moved)


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per controller ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text(encoding="ascii")
    except OSError:
        return paths
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _nested(mount: Path, own: str | None) -> Path:
    """The service's own cgroup under `mount` when it exists there (it does on a real mount)."""
    if own:
        candidate = mount / own.lstrip("/")
        if candidate.is_dir():
            return candidate
    return mount


def _probe(tree: CgroupTree) -> None:
    """Create and remove one cgroup: the cheapest proof that the tree is writable."""
    cgroup = tree.create(f"{NAME_PREFIX}{os.getpid()}-probe-{secrets.token_hex(2)}")
    for directory in cgroup._directories():
        directory.rmdir()


def find_cgroup_tree(root: Path | None = None) -> tuple[CgroupTree | None, str]:
    """The writable cgroup tree under `root` (default /sys/fs/cgroup), or None and why not."""
    mount = root or DEFAULT_ROOT
    own = _own_cgroups()
    tree: CgroupTree
    if (mount / "cgroup.controllers").is_file():
        tree = CgroupV2Tree(_nested(mount, own.get("")))
    elif (mount / "memory").is_dir() and (mount / "pids").is_dir():
        tree = CgroupV1Tree(
            _nested(mount / "memory", own.get("memory")), _nested(mount / "pids", own.get("pids"))
        )
    else:
        return None, f"no cgroup v2 or v1 memory+pids hierarchy at {mount}"
    try:
        if isinstance(tree, CgroupV2Tree):
            tree.enable_controllers()
        _probe(tree)
    except OSError as exc:
        return None, f"{tree.describe()} not usable: {exc.strerror or exc}"
    return tree, tree.describe()
