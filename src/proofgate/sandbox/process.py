"""How proofgate starts the processes that run submissions: the seam between the pool and the jail.

A `Spawner` turns a `SpawnSpec` (what to run) and `Limits` (how much it may take) into a
`ManagedProcess` that can always be killed as a whole, with every descendant. The spawners are
`proofgate.sandbox.group.ProcessGroupSpawner` (a process group, unjailed) and
`proofgate.sandbox.bwrap.BwrapSpawner` (a bubblewrap jail); `select_spawner` picks one. Callers never touch
`asyncio.subprocess` directly.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from proofgate.sandbox.cgroups import Cgroup
from proofgate.sandbox.proctree import Baseline
from proofgate.sandbox.spawned import SpawnedProcess

__all__ = ["Launch", "Limits", "ManagedProcess", "PipedProcess", "SpawnSpec", "Spawner", "rlimits"]


@dataclass(frozen=True)
class SpawnSpec:
    """What to run. Paths not named here are invisible inside a jail."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    read_only: tuple[Path, ...] = ()  # toolchain, project, Mathlib oleans
    writable: tuple[Path, ...] = ()  # scratch directories the process may write
    #: Descriptors of the service the program gets as its fds 3, 4, ... (copies: the caller
    #: closes its own); through a jail too, e.g. one end of a socket pair to talk over.
    pass_fds: tuple[int, ...] = ()
    #: False: no writable path at all, the jail's /tmp read-only too (a zygote, whose children
    #: share its jail: none may leave a file for a sibling to find).
    scratch: bool = True


@dataclass(frozen=True)
class Limits:
    """Resource caps for one process tree. None means no cap."""

    memory_bytes: int | None = None  # private memory (cgroup or RssAnon watchdog)
    max_processes: int | None = 64
    open_files: int = 1024
    file_size_bytes: int = 1 << 30
    core_dumps: bool = False
    #: A process killed for memory ends the whole tree (cgroup v2's `memory.oom.group`, the jail's
    #: watch, the watchdog). False for a tree of independent processes (a zygote and the children
    #: it forks for different requests): only the process picked, the largest, dies.
    oom_group: bool = True
    #: The tree's members can be capped one by one (`ManagedProcess.confine`), each in a cgroup
    #: of its own within the tree's: a zygote's children.
    member_cgroups: bool = False


def rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """The rlimits both spawners set in the child before its exec, as (resource, (soft, hard)): open
    files, file size and, unless `core_dumps`, core dumps (0). Each value is capped at the service's
    own hard limit, which the child could not raise (unprivileged) or should not (root)."""
    wanted = [
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
    ]
    if not limits.core_dumps:
        wanted.append((resource.RLIMIT_CORE, 0))
    pairs = []
    for kind, value in wanted:
        _, hard = resource.getrlimit(kind)
        capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
        pairs.append((kind, (capped, capped)))
    return pairs


@runtime_checkable
class ManagedProcess(Protocol):
    """A started process tree, with pipes for stdin, stdout and stderr."""

    pid: int
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None:
        """Kill the whole tree (every descendant); idempotent, never raises."""

    def private_memory_bytes(self) -> int | None:
        """Memory the tree holds privately (not the shared, mmapped oleans); None if unknown."""

    def out_of_memory(self) -> bool:
        """True once the tree was killed for going over `Limits.memory_bytes`."""

    def oom_kills(self) -> int | None:
        """How many of the tree's processes were killed for memory so far: by the kernel (its
        cgroup's record), or by the watchdog where no cgroup holds the tree; None when neither
        watches it."""

    def task_kills(self) -> int:
        """How many of the tree's processes its watchdog killed for holding the most threads over
        the task cap (a tree of independent processes, `Limits.oom_group` False); 0 where none
        did (under a cgroup the kernel refuses the thread instead)."""

    @property
    def limit_exceeded(self) -> str | None:
        """ "memory" or "processes" once the tree was killed for going over that cap, else None."""

    def mark_baseline(self) -> None:
        """Record the tree's processes now as the ones that belong to it (the program and the
        path to it): call it while the program is idle, before it runs anything untrusted."""

    def kill_strays(self) -> int:
        """SIGKILL every process of the tree (and of its cgroup) that is not in the baseline;
        returns how many there were (0 before `mark_baseline`). Never raises."""

    def strays(self) -> int:
        """How many processes beyond the baseline the tree holds now, zombies included."""

    def confine(
        self, pid: int, *, memory_bytes: int | None, max_tasks: int | None
    ) -> Cgroup | None:
        """Move `pid`, the host pid of one of the tree's processes, into a cgroup of its own below
        the tree's, capped at `memory_bytes` (charged from now on) and `max_tasks`; the caller
        removes it once the process is gone. None when the tree has no cgroup to nest in (no
        cgroup, or `Limits.member_cgroups` was not asked for). Raises OSError (ESRCH: gone)."""


class PipedProcess:
    """What both spawners' processes share: a started `SpawnedProcess`, its pid, its
    pipes and its exit status (each spawner adds `wait`, `kill` and the memory accessors)."""

    def __init__(self, process: SpawnedProcess) -> None:
        assert process.stdin and process.stdout and process.stderr
        self._process = process
        self.pid: int = process.pid
        self.stdin: asyncio.StreamWriter = process.stdin
        self.stdout: asyncio.StreamReader = process.stdout
        self.stderr: asyncio.StreamReader = process.stderr
        self._baseline = Baseline(process.pid)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def _members(self) -> Iterable[int] | None:
        """Every process of the tree when the spawner knows them (a jail's cgroup); None: the
        tree is found from /proc (`proofgate.sandbox.proctree.Baseline`)."""
        return None

    def mark_baseline(self) -> None:
        if self._process.returncode is None:
            self._baseline.mark(self._members())

    def kill_strays(self) -> int:
        if self._process.returncode is not None:
            return 0
        try:
            return self._baseline.kill_strays(self._members())
        except OSError:
            return 0

    def strays(self) -> int:
        if self._process.returncode is not None:
            return 0
        try:
            return len(self._baseline.strays(self._members()))
        except OSError:
            return 0

    def confine(
        self, pid: int, *, memory_bytes: int | None, max_tasks: int | None
    ) -> Cgroup | None:
        return None  # a jail with a cgroup nests one (`JailedProcess`)


class Spawner(Protocol):
    """Starts `ManagedProcess`es; `name` is what `/readyz` and `doctor` report."""

    name: str

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> ManagedProcess: ...


@dataclass(frozen=True)
class Launch:
    """How one long-lived process starts: through `spawner`, as `spec` says, under `limits`."""

    spawner: Spawner
    spec: SpawnSpec
    limits: Limits

    async def spawn(self) -> ManagedProcess:
        return await self.spawner.spawn(self.spec, self.limits)
