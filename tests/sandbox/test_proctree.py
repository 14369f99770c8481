"""The watchdog's view of a process tree: members, private memory, and killing by identity."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psutil

from proofgate.sandbox.proctree import kill_members, living, sample_tree

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
