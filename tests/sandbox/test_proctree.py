"""The watchdog's view of a process tree: members, private memory, and killing by identity."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from proofgate.sandbox import proctree
from proofgate.sandbox.proctree import (
    ProcessTree,
    kill_members,
    living,
    rss_anon_bytes,
    sample_tree,
)

MiB = 1 << 20


def test_sample_sees_every_descendant_and_their_private_memory() -> None:
    tree = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import subprocess, sys, time
            children = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
            block = bytearray(b"a" * (32 << 20))
            print("ready", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert tree.stdout and tree.stdout.readline() == b"ready\n"
        sample = sample_tree(tree.pid)
        assert len(sample.members) == 3 and tree.pid in sample.members
        assert sample.tasks >= 3
        assert (
            30 * MiB <= sample.private_bytes < 200 * MiB
        )  # RssAnon, the 32 MiB block counted once
        assert kill_members(sample.members.values()) == 3
        _, alive = psutil.wait_procs(list(sample.members.values())[1:], timeout=5)
        assert alive == []
        tree.wait(5)
        assert living(sample.members.values()) == []
    finally:
        tree.kill()
        tree.wait()


def test_a_gone_root_gives_an_empty_sample() -> None:
    done = subprocess.Popen(["true"])
    done.wait()
    assert sample_tree(done.pid).members == {}


def test_an_exited_member_is_never_signalled_again() -> None:
    child = subprocess.Popen(["sleep", "60"])
    member = psutil.Process(child.pid)
    child.kill()
    child.wait()
    time.sleep(0.01)
    assert living([member]) == []
    assert kill_members([member]) == 0  # psutil knows it is gone (and would spot a reused PID)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_one_process_private_memory_is_its_rss_anon() -> None:
    """Private memory is read from statm (resident minus shared), the one source for both
    spawners: the same number as status's RssAnon, for one short line instead of the whole file."""
    ballast = bytearray(b"\x01" * (40 << 20))  # touched, so it is resident
    status = Path("/proc/self/status").read_text()
    rss_anon = next(
        int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("RssAnon:")
    )
    measured = rss_anon_bytes(os.getpid())
    assert measured is not None and abs(measured - rss_anon) <= 1 << 20 and measured >= len(ballast)
    assert rss_anon_bytes(2**22 + 12345) is None  # no such process


def test_tasks_count_every_thread_of_every_member() -> None:
    tree = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import subprocess, threading, time
            child = subprocess.Popen(["sleep", "60"])
            stop = threading.Event()
            for _ in range(4):
                threading.Thread(target=stop.wait, daemon=True).start()
            print("ready", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert tree.stdout and tree.stdout.readline() == b"ready\n"
        sample = sample_tree(tree.pid)
        threads = sum(process.num_threads() for process in sample.members.values())
        assert len(sample.members) == 2 and sample.tasks == threads >= 6  # 5 + the sleep
    finally:
        _kill_tree(tree)


SPAWNS_ON_DEMAND = textwrap.dedent("""
    import subprocess, sys, time
    print("ready", flush=True)
    sys.stdin.readline()
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import time; x = bytearray(b'x' * (32 << 20)); print(1, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )
    child.stdout.readline()
    print(child.pid, flush=True)
    time.sleep(60)
""")


def test_every_look_and_report_lists_the_tree_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen refresh: every look (the watchdog's) and every report of the tree's memory (the pool's,
    the REPL driver's) lists the members from a scan of its own moment, shared only by looks in the
    same pass (`SCAN_SHARED_SECONDS`); the unjailed spawner reused a list up to a second old, which
    missed a child started since, and in a jail the program itself, bwrap's grandchild."""
    monkeypatch.setattr(proctree, "SCAN_SHARED_SECONDS", 0.0)  # no other look shares a scan here
    monkeypatch.setattr(proctree, "FULL_SCAN_SECONDS", 3600.0)  # only updates after the first
    root = subprocess.Popen(
        [sys.executable, "-c", SPAWNS_ON_DEMAND],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert root.stdin and root.stdout and root.stdout.readline() == b"ready\n"
        tree = ProcessTree(root.pid)
        assert list(tree.look().members) == [root.pid]
        alone = tree.private_memory_bytes()
        root.stdin.write(b"go\n")
        root.stdin.flush()
        child = int(root.stdout.readline())
        with_child = tree.private_memory_bytes()  # no look in between: the report lists anew
        assert alone is not None and with_child is not None and with_child - alone >= 30 * MiB
        assert list(tree.look().members) == [root.pid, child]
    finally:
        _kill_tree(root)


ADOPTS_ITS_GRANDCHILD = textwrap.dedent("""
    import ctypes, subprocess, sys, time
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, as an init
    middle = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys; c = subprocess.Popen(['sleep', '60']); "
         "print(c.pid, flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    print(middle.pid, int(middle.stdout.readline()), flush=True)
    sys.stdin.readline()
    middle.stdin.write(b"exit\\n"); middle.stdin.flush(); middle.wait()
    print("adopted", flush=True)
    time.sleep(60)
""")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_an_update_follows_an_orphan_to_its_new_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between full scans only new processes are read, and the children of vanished ones, whose
    parent changed: an orphan adopted inside the tree (by a jail's init) stays in it."""
    monkeypatch.setattr(proctree, "SCAN_SHARED_SECONDS", 0.0)
    monkeypatch.setattr(proctree, "FULL_SCAN_SECONDS", 3600.0)
    root = subprocess.Popen(
        [sys.executable, "-c", ADOPTS_ITS_GRANDCHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert root.stdin and root.stdout
        middle, orphan = (int(word) for word in root.stdout.readline().split())
        tree = ProcessTree(root.pid)
        assert list(tree.look().members) == [root.pid, middle, orphan]
        root.stdin.write(b"go\n")
        root.stdin.flush()
        assert root.stdout.readline() == b"adopted\n"
        assert list(tree.look().members) == [root.pid, orphan]
    finally:
        _kill_tree(root)


def _kill_tree(root: subprocess.Popen[bytes]) -> None:
    kill_members(sample_tree(root.pid).members.values())
    root.wait(5)


def test_a_baseline_from_known_members_reads_no_other_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a cgroup's members the tree is those members alone: no scan of /proc, and a process
    that joined them since the mark is a stray (a full scan reads every process on the host)."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:

        def no_scan() -> dict[int, object]:
            raise AssertionError("the whole of /proc was scanned")

        monkeypatch.setattr(proctree, "_scan", no_scan)
        baseline = proctree.Baseline(os.getpid())
        baseline.mark([os.getpid()])
        assert baseline.strays([os.getpid()]) == []
        assert baseline.strays([os.getpid(), sleeper.pid]) == [sleeper.pid]
        assert baseline.kill_strays([os.getpid(), sleeper.pid]) == 1
        assert sleeper.wait(timeout=30) == -9
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.skipif(
    not proctree._CHILDREN_FILES, reason="the kernel lists no /proc/PID/task/TID/children"
)
def test_a_tree_is_read_from_its_own_children_lists_never_from_a_host_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a REPL worker's stray check and memory reports cost grows with the tree, not with the
    host: with the kernel's children lists no look reads the whole of /proc."""

    def no_scan(*args: object, **kwargs: object) -> dict[int, object]:
        raise AssertionError("the whole of /proc was scanned")

    monkeypatch.setattr(proctree, "_scan", no_scan)
    monkeypatch.setattr(proctree._TABLE, "get", no_scan)
    root = subprocess.Popen(
        [sys.executable, "-c", ADOPTS_ITS_GRANDCHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert root.stdin and root.stdout
        middle, orphan = (int(word) for word in root.stdout.readline().split())
        tree = ProcessTree(root.pid)
        assert sorted(tree.look().members) == sorted([root.pid, middle, orphan])
        assert tree.private_memory_bytes() is not None
        baseline = proctree.Baseline(root.pid)
        baseline.mark()
        root.stdin.write(b"go\n")  # the middle exits; its child is adopted by the root
        root.stdin.flush()
        assert root.stdout.readline() == b"adopted\n"
        assert sorted(tree.look().members) == sorted([root.pid, orphan])
        assert baseline.strays() == []  # the adopted orphan was there at the mark
    finally:
        monkeypatch.undo()
        _kill_tree(root)


def test_without_children_lists_a_tree_is_read_from_the_process_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proctree, "_CHILDREN_FILES", False)
    walked: list[int] = []
    monkeypatch.setattr(proctree, "_walk", lambda root: walked.append(root) or [])
    test_sample_sees_every_descendant_and_their_private_memory()
    assert walked == []
