"""A stand-in for the kernel's cgroup v2 filesystem, as a directory tree under tmp_path.

A new cgroup gets the control files the kernel would put in it, and removing one drops them, as
rmdir does on cgroupfs. Nothing here limits anything: tests write `memory.events` or
`cgroup.procs` themselves to play the kernel's part.
"""

from __future__ import annotations

from pathlib import Path

from proofgate.sandbox.cgroups import JAIL_LEAF, CgroupV2, CgroupV2Tree

CONTROL_FILES = {
    "cgroup.procs": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.oom.group": "0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    "memory.stat": "anon 0\nfile 0\nshmem 0\n",
    "pids.max": "max\n",
    "pids.current": "0\n",
}


def make_fake_v2_root(path: Path, *, controllers: str = "cpu io memory pids") -> Path:
    """A cgroup v2 mount root as the kernel shows it, before anything is delegated."""
    path.mkdir(parents=True)
    (path / "cgroup.controllers").write_text(controllers + "\n")
    (path / "cgroup.subtree_control").write_text("")
    (path / "cgroup.procs").write_text("")
    return path


def _with_control_files(directory: Path) -> None:
    for file_name, content in CONTROL_FILES.items():
        (directory / file_name).write_text(content)


class FakeCgroupV2(CgroupV2):
    def prepare_nesting(self) -> None:
        super().prepare_nesting()
        _with_control_files(self.directory / JAIL_LEAF)

    def nest(self, name: str) -> FakeCgroupV2:
        nested = FakeCgroupV2(super().nest(name).directory)
        _with_control_files(nested.directory)
        return nested

    def remove(self, *, timeout: float = 5.0) -> bool:
        self.kill(timeout=timeout)
        for directory in self._subtree():  # rmdir on cgroupfs takes the control files too
            for entry in directory.iterdir():
                if entry.is_file():
                    entry.unlink()
        return super().remove(timeout=timeout)


class FakeV2Tree(CgroupV2Tree):
    """A `CgroupV2Tree` over a fake root whose new cgroups come with their control files."""

    def __init__(self, parent: Path, *, with_kill_file: bool = False) -> None:
        super().__init__(parent)
        self.with_kill_file = with_kill_file

    def open(self, name: str) -> FakeCgroupV2:
        return FakeCgroupV2(self.parent / name)

    def create(self, name: str | None = None) -> FakeCgroupV2:
        cgroup = self.open(name or self.new_name())
        cgroup.directory.mkdir()
        _with_control_files(cgroup.directory)
        if self.with_kill_file:
            (cgroup.directory / "cgroup.kill").write_text("")
        return cgroup
