"""cgroup handling: v2 against a fake tree in tmp_path, and whichever hierarchy this machine lets us
write (v1 memory+pids here) for real, with every cgroup removed again even when a test fails."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proofgate.sandbox.cgroups import (
    JAIL_LEAF,
    SERVICE_LEAF,
    Cgroup,
    CgroupTree,
    CgroupV1Tree,
    CgroupV2,
    CgroupV2Tree,
    find_cgroup_tree,
)
from tests.support.fake_cgroup import FakeV2Tree, make_fake_v2_root

MiB = 1 << 20
NEVER_A_PID = 99_999_999  # above the kernel's PID_MAX_LIMIT (2**22)


# --- v2 against a fake tree -----------------------------------------------------------------------


def test_v2_is_found_and_delegates_memory_and_pids(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup")
    tree, detail = find_cgroup_tree(root)
    assert isinstance(tree, CgroupV2Tree) and tree.parent == root
    assert detail == f"cgroup v2 (memory and pids under {root})"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert [entry.name for entry in root.iterdir() if entry.is_dir()] == []  # the probe cleaned up


def test_v2_without_delegated_controllers_is_refused(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup", controllers="cpu io")
    tree, detail = find_cgroup_tree(root)
    assert tree is None
    assert "not delegated" in detail and "memory" in detail


def test_no_cgroup_mount_at_all(tmp_path: Path) -> None:
    tree, detail = find_cgroup_tree(tmp_path)
    assert tree is None and str(tmp_path) in detail


def test_v2_busy_parent_moves_its_processes_into_a_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup")
    (root / "cgroup.procs").write_text("4242\n4343\n")
    calls: list[str] = []
    original = CgroupV2Tree._write_subtree_control

    def busy_once(self: CgroupV2Tree, request: str) -> None:
        calls.append(request)
        if len(calls) == 1:  # what the kernel answers while the parent itself holds processes
            raise OSError(errno.EBUSY, "Device or resource busy")
        original(self, request)

    monkeypatch.setattr(CgroupV2Tree, "_write_subtree_control", busy_once)
    CgroupV2Tree(root).enable_controllers()
    assert calls == ["+memory +pids", "+memory +pids"]
    assert (root / SERVICE_LEAF / "cgroup.procs").read_text() == "4343"  # each pid written in turn
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_v2_limits_are_written(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    cgroup.set_limits(memory_bytes=256 * MiB, max_tasks=66)
    directory = tree.parent / cgroup.name
    assert (directory / "memory.max").read_text() == str(256 * MiB)
    assert (directory / "pids.max").read_text() == "66"
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "memory.oom.group").read_text() == "1"
    cgroup.set_limits(memory_bytes=None, max_tasks=None)
    assert (directory / "memory.max").read_text() == "max" and (
        directory / "pids.max"
    ).read_text() == "max"
    assert cgroup.join_files() == (directory / "cgroup.procs",)


def test_v2_reads_oom_and_private_memory(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    directory = tree.parent / cgroup.name
    assert not cgroup.oom_killed()
    assert cgroup.private_memory_bytes() == 0
    (directory / "memory.stat").write_text("anon 123456789\nfile 999999999\nshmem 0\n")
    (directory / "memory.events").write_text(
        "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n"
    )
    assert cgroup.private_memory_bytes() == 123456789  # anon only, not the page cache
    assert cgroup.oom_killed() and cgroup.oom_kills() == 1
    (directory / "memory.events").write_text("oom 3\noom_kill 2\noom_group_kill 0\n")
    assert cgroup.oom_kills() == 2  # a count: a second kill is told from the first


def test_v2_a_tree_of_independent_processes_is_not_killed_as_a_group(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    cgroup.set_limits(memory_bytes=256 * MiB, max_tasks=66, oom_group=False)
    assert (tree.parent / cgroup.name / "memory.oom.group").read_text() == "0"


def test_v2_kill_file_is_used_when_present(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"), with_kill_file=True)
    cgroup = tree.create()
    cgroup.signal_all()
    assert (tree.parent / cgroup.name / "cgroup.kill").read_text() == "1"


def test_v2_without_kill_file_signals_each_process(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tree.parent / cgroup.name / "cgroup.procs").write_text(f"{sleeper.pid}\n")
        assert cgroup.pids() == {sleeper.pid}
        assert cgroup.signal_all() == 1
        assert sleeper.wait(5) == -9
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_fake_tree_never_makes_us_signal_ourselves(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    (tree.parent / cgroup.name / "cgroup.procs").write_text(f"0\n1\n{os.getpid()}\n")
    assert cgroup.signal_all() == 0  # kill(0) would hit our process group, kill(1) init
    assert cgroup.kill(timeout=0.1)


def test_v2_remove_takes_the_directory(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    assert cgroup.remove()
    assert not (tree.parent / cgroup.name).exists()
    assert cgroup.remove()  # idempotent


def test_remove_now_takes_an_empty_cgroup_and_only_that(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    cgroup = tree.create()
    assert isinstance(cgroup, CgroupV2)
    assert cgroup.is_empty()
    (cgroup.directory / "cgroup.procs").write_text(f"{NEVER_A_PID}\n")
    assert not cgroup.is_empty()
    assert not cgroup.remove_now()  # the kernel's EBUSY; here, the control files
    assert cgroup.directory.is_dir()
    for entry in cgroup.directory.iterdir():
        entry.unlink()
    assert cgroup.remove_now() and not cgroup.directory.exists()
    assert cgroup.remove_now()  # gone already
    with pytest.raises(OSError):
        cgroup.is_empty()


def test_v2_a_cgroup_nests_members_once_its_own_processes_live_in_a_leaf(tmp_path: Path) -> None:
    tree = FakeV2Tree(make_fake_v2_root(tmp_path / "cgroup"))
    jail = tree.create()
    with pytest.raises(OSError, match="prepare_nesting"):
        jail.nest("member-1")  # v2 allows no process beside a child with controllers
    jail.prepare_nesting()
    assert (jail.directory / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert jail.join_files() == (jail.directory / JAIL_LEAF / "cgroup.procs",)
    member = jail.nest("member-1")
    member.set_limits(memory_bytes=32 * MiB, max_tasks=5)
    assert (member.directory / "memory.max").read_text() == str(32 * MiB)
    assert (member.directory / "pids.max").read_text() == "5"
    assert (member.directory / "memory.oom.group").read_text() == "1"  # the member dies whole
    # every reader takes the nested cgroups with the jail; the member's records are its own
    (jail.directory / JAIL_LEAF / "cgroup.procs").write_text(f"{NEVER_A_PID}\n")
    (member.directory / "cgroup.procs").write_text(f"{NEVER_A_PID - 1}\n")
    (member.directory / "pids.events").write_text("max 3\n")
    assert jail.pids() == {NEVER_A_PID, NEVER_A_PID - 1} and not jail.is_empty()
    assert member.pids() == {NEVER_A_PID - 1} and member.task_cap_hits() == 3
    assert jail.task_cap_hits() == 0
    assert jail.remove(timeout=0.1)
    assert not jail.directory.exists()


def test_stale_cgroups_of_dead_services_are_swept(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup")
    tree = CgroupV2Tree(root)
    dead = root / f"proofgate-{NEVER_A_PID}-abcd"
    ours = root / f"proofgate-{os.getpid()}-abcd"
    alive = root / "proofgate-1-abcd"  # pid 1 always exists
    foreign = root / "somebody-else"
    for directory in (dead, ours, alive, foreign):
        directory.mkdir()
    assert tree.remove_stale() == 1
    assert not dead.exists()
    assert ours.exists() and alive.exists() and foreign.exists()


# --- the real hierarchy on this machine -----------------------------------------------------------


@pytest.fixture
def real_tree() -> CgroupTree:
    tree, detail = find_cgroup_tree()
    if tree is None:
        pytest.skip(
            f"no writable cgroup on this machine ({detail}); the sandbox uses its RSS watchdog"
        )
    return tree


@pytest.fixture
def real_cgroup(real_tree: CgroupTree) -> Iterator[Cgroup]:
    cgroup = real_tree.create()
    try:
        yield cgroup
    finally:
        cgroup.remove()
        for parent in real_tree._parents():
            assert not (parent / cgroup.name).exists(), "cgroup left behind"


def _join(cgroup: Cgroup) -> Callable[[], None]:
    paths = [os.fsencode(path) for path in cgroup.join_files()]

    def join() -> None:
        for path in paths:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    return join


def _run_in(cgroup: Cgroup, code: str, *, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        preexec_fn=_join(cgroup),  # noqa: PLW1509 - what the spawner does; these tests start no threads
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_real_limits_are_applied(real_tree: CgroupTree, real_cgroup: Cgroup) -> None:
    real_cgroup.set_limits(memory_bytes=64 * MiB, max_tasks=12)
    if isinstance(real_tree, CgroupV1Tree):
        memory = real_tree.memory_parent / real_cgroup.name / "memory.limit_in_bytes"
        pids = real_tree.pids_parent / real_cgroup.name / "pids.max"
    else:
        assert isinstance(real_tree, CgroupV2Tree)
        memory = real_tree.parent / real_cgroup.name / "memory.max"
        pids = real_tree.parent / real_cgroup.name / "pids.max"
    assert int(memory.read_text()) == 64 * MiB
    assert pids.read_text().strip() == "12"


def test_real_membership_memory_and_kill(real_cgroup: Cgroup) -> None:
    child = _run_in(
        real_cgroup,
        """
        import sys, time
        block = bytearray(b"m" * (48 << 20))
        print("ready", flush=True)
        time.sleep(60)
    """,
    )
    try:
        assert child.stdout and child.stdout.readline() == "ready\n"
        assert child.pid in real_cgroup.pids()
        private = real_cgroup.private_memory_bytes()
        assert private is not None and 40 * MiB <= private < 200 * MiB
        assert real_cgroup.kill(timeout=5)
        assert child.wait(5) == -9
        assert real_cgroup.pids() == set()
        assert not real_cgroup.oom_killed()
    finally:
        child.kill()
        child.wait()


#: Forks children that sleep until a fork is refused, prints how many it made, then sleeps.
FORK_UNTIL_REFUSED = """
import os, time
forked = 0
try:
    for _ in range(100):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
except OSError:
    pass
print(forked, flush=True)
time.sleep(60)
"""


def test_real_pids_cap_refuses_forks(real_cgroup: Cgroup) -> None:
    real_cgroup.set_limits(memory_bytes=None, max_tasks=8)
    child = _run_in(real_cgroup, FORK_UNTIL_REFUSED)
    try:
        assert child.stdout
        forked = int(child.stdout.readline())
        assert forked == 7  # 8 tasks: the program and 7 children
        assert len(real_cgroup.pids()) == 8
    finally:
        real_cgroup.kill(timeout=5)
        child.kill()
        child.wait()
    assert real_cgroup.pids() == set()


def test_real_member_cgroup_caps_one_process_within_its_parent(real_cgroup: Cgroup) -> None:
    """A process moved into a nested cgroup (as a zygote's child is) meets that cgroup's task
    cap, not its parent's; the parent's readers and its removal take the member too."""
    real_cgroup.set_limits(memory_bytes=None, max_tasks=50)
    real_cgroup.prepare_nesting()
    # it starts forking once told to: after the test has moved it
    child = _run_in(
        real_cgroup, "import sys; sys.stdin.readline()\n" + FORK_UNTIL_REFUSED, stdin=True
    )
    try:
        member = real_cgroup.nest("member-1")
        member.set_limits(memory_bytes=64 * MiB, max_tasks=4)
        member.move(child.pid)
        assert child.stdin and child.stdout
        child.stdin.write("go\n")
        child.stdin.flush()
        assert int(child.stdout.readline()) == 3  # 4 tasks: the program and 3 children
        assert member.task_cap_hits() >= 1 and len(member.pids()) == 4
        assert member.pids() <= real_cgroup.pids()
        with pytest.raises(OSError):
            member.move(NEVER_A_PID)
    finally:
        assert real_cgroup.remove(timeout=5)  # kills the member's processes, rmdirs it first
        child.kill()
        child.wait()
    assert real_cgroup.pids() == set()


def test_real_removal_of_a_left_cgroup_takes_its_members_processes(
    real_tree: CgroupTree, real_cgroup: Cgroup
) -> None:
    """A cgroup opened by name (as the sweep of a dead service's opens it) knows nothing of its
    members: its removal still finds them, kills their processes and removes them first."""
    real_cgroup.prepare_nesting()
    member = real_cgroup.nest("member-1")
    child = _run_in(member, "import time; print('ready', flush=True); time.sleep(60)")
    try:
        assert child.stdout and child.stdout.readline() == "ready\n"
        left = real_tree.open(real_cgroup.name)
        assert not left.nests and child.pid not in left.pids()  # read without a walk
        assert left.remove(timeout=5)
        assert child.wait(5) == -9
        assert not any((parent / real_cgroup.name).exists() for parent in real_tree._parents())
    finally:
        child.kill()
        child.wait()


def test_real_memory_cap_kills_and_is_recorded(real_cgroup: Cgroup) -> None:
    real_cgroup.set_limits(memory_bytes=48 * MiB, max_tasks=None)
    child = _run_in(
        real_cgroup,
        """
        chunks = []
        for _ in range(64):
            chunks.append(bytearray(b"h" * (8 << 20)))
        print("SURVIVED", flush=True)
    """,
    )
    try:
        out, _ = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -9 and "SURVIVED" not in out
    assert real_cgroup.oom_killed()
