"""The two cgroup hierarchies: v1 (a memory and a pids hierarchy, a cgroup of the same name in
each) and v2 (one unified tree whose parents delegate controllers to their children)."""

from __future__ import annotations

import errno
from pathlib import Path

from proofgate.logs import get_logger
from proofgate.sandbox.cgroup_base import (
    Cgroup,
    CgroupTree,
    control_fields,
    pids_listed,
    read_control,
    write_control,
)

__all__ = ["JAIL_LEAF", "SERVICE_LEAF", "CgroupV1", "CgroupV1Tree", "CgroupV2", "CgroupV2Tree"]

#: The leaf a v2 parent's own processes move into, so that it may enable controllers for children.
SERVICE_LEAF = "proofgate-service"
#: The leaf a v2 jail's own processes join when its members get cgroups of their own.
JAIL_LEAF = "jail"

_log = get_logger("proofgate.sandbox.cgroups")


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
            write_control(self.memory_dir / "memory.limit_in_bytes", str(memory_bytes))
            swap = self.memory_dir / "memory.memsw.limit_in_bytes"
            if swap.exists():  # absent when swap accounting is off; then there is no swap to cap
                write_control(swap, str(memory_bytes))
        write_control(self.pids_dir / "pids.max", "max" if max_tasks is None else str(max_tasks))

    def task_cap_hits(self) -> int:
        return control_fields(self.pids_dir / "pids.events").get("max", 0)

    def nest(self, name: str) -> CgroupV1:
        nested = _make_v1(CgroupV1(self.memory_dir / name, self.pids_dir / name))
        self.nests = True
        return nested

    def private_memory_bytes(self) -> int | None:
        stat = control_fields(self.memory_dir / "memory.stat")
        return stat.get("total_rss", stat.get("rss"))  # anonymous memory, huge pages included

    def oom_kills(self) -> int:
        control = control_fields(self.memory_dir / "memory.oom_control")
        if "oom_kill" in control:  # Linux >= 4.13
            return control["oom_kill"]
        try:  # older kernels: any failure to charge under the cap is the best evidence there is
            return int(read_control(self.memory_dir / "memory.failcnt"))
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
        write_control(self.directory / "cgroup.subtree_control", "+memory +pids")
        self._leaf = leaf
        self.nests = True

    def nest(self, name: str) -> CgroupV2:
        if self._leaf is None:  # the kernel would refuse its controllers' files
            raise OSError(errno.EINVAL, f"{self.name} does not nest cgroups (prepare_nesting)")
        nested = CgroupV2(self.directory / name)
        nested.directory.mkdir()
        return nested

    def task_cap_hits(self) -> int:
        return control_fields(self.directory / "pids.events").get("max", 0)

    def set_limits(
        self, *, memory_bytes: int | None, max_tasks: int | None, oom_group: bool = True
    ) -> None:
        write_control(
            self.directory / "memory.max", "max" if memory_bytes is None else str(memory_bytes)
        )
        write_control(self.directory / "pids.max", "max" if max_tasks is None else str(max_tasks))
        if memory_bytes is not None:
            group = "1" if oom_group else "0"
            for optional, value in (("memory.swap.max", "0"), ("memory.oom.group", group)):
                if (self.directory / optional).exists():  # no swap accounting / older kernel
                    write_control(self.directory / optional, value)

    def private_memory_bytes(self) -> int | None:
        return control_fields(self.directory / "memory.stat").get("anon")

    def oom_kills(self) -> int:
        events = control_fields(self.directory / "memory.events")
        return events.get("oom_kill", 0) + events.get("oom_group_kill", 0)

    def signal_all(self) -> int:
        kill_file = self.directory / "cgroup.kill"  # Linux >= 5.14 kills the whole cgroup at once
        if kill_file.exists():
            try:
                write_control(kill_file, "1")
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
        available = set(read_control(self.parent / "cgroup.controllers").split())
        if not wanted <= available:
            raise OSError(
                errno.ENOTSUP,
                f"controllers {sorted(wanted - available)} are not delegated to {self.parent}",
            )
        enabled = {
            word.lstrip("+")
            for word in read_control(self.parent / "cgroup.subtree_control").split()
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
        write_control(self.parent / "cgroup.subtree_control", request)

    def _move_own_processes_to_leaf(self) -> None:
        leaf = self.parent / SERVICE_LEAF
        leaf.mkdir(exist_ok=True)
        moved = 0
        for pid in sorted(pids_listed(self.parent / "cgroup.procs")):
            try:
                write_control(leaf / "cgroup.procs", str(pid))
                moved += 1
            except OSError:  # gone meanwhile, or a kernel thread
                continue
        _log.info("cgroup_processes_moved", leaf=str(leaf), count=moved)
