"""The one watchdog both spawners use: its back-off schedule, its caps, its kill and its report."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from proofgate.sandbox import proctree
from proofgate.sandbox.proctree import ProcessTree, TreeSample, kill_members, sample_tree
from proofgate.sandbox.watchdog import (
    POLL_MAX_SECONDS,
    POLL_SECONDS,
    STEADY_BYTES,
    Watchdog,
    next_poll,
)

MiB = 1 << 20


class FakeTree:
    """A `ProcessTree` whose looks return what the test says (an exception is raised)."""

    root = 4242

    def __init__(self, *samples: TreeSample | Exception) -> None:
        self.samples = list(samples)

    def look(self) -> TreeSample:
        sample = self.samples.pop(0) if len(self.samples) > 1 else self.samples[0]
        if isinstance(sample, Exception):
            raise sample
        return sample


def tree_of(private_bytes: int, tasks: int = 1) -> TreeSample:
    return TreeSample({4242: object()}, tasks, private_bytes)  # type: ignore[dict-item]


def watchdog(tree: Any, **options: Any) -> tuple[Watchdog, list[str]]:
    kills: list[str] = []
    return Watchdog(tree, kill=lambda: kills.append("kill"), **options), kills


def test_a_steady_tree_is_looked_at_less_often_and_a_moving_one_at_once() -> None:
    interval, last = POLL_SECONDS, None
    schedule = []
    for _ in range(6):
        now = tree_of(100 * MiB, tasks=3)
        interval = next_poll(interval, last, now)
        last = now
        schedule.append(interval)
    assert schedule[0] == POLL_SECONDS  # the first look has nothing to compare with
    assert schedule == sorted(schedule) and schedule[-1] == POLL_MAX_SECONDS
    assert last is not None
    grown = tree_of(100 * MiB + STEADY_BYTES, tasks=3)
    shrunk = tree_of(100 * MiB - STEADY_BYTES, tasks=3)
    for moved in (grown, shrunk, None):
        assert next_poll(POLL_MAX_SECONDS, last, moved) == POLL_SECONDS


def test_a_change_in_the_task_count_is_movement_too() -> None:
    """Chosen for both spawners: a tree whose task count changed (a fork, a new thread) is looked
    at again at the fastest pace, even when its private memory held steady."""
    steady = tree_of(100 * MiB, tasks=3)
    assert next_poll(0.4, steady, tree_of(100 * MiB, tasks=3)) == 0.8
    assert next_poll(0.4, steady, tree_of(100 * MiB, tasks=4)) == POLL_SECONDS
    assert next_poll(0.4, steady, tree_of(100 * MiB, tasks=4), fastest=0.1) == 0.1


def test_the_schedule_backs_off_from_the_spawners_own_pace() -> None:
    """The jail looks every `poll_interval` (0.1 s) while a tree moves; like the unjailed spawner
    it now backs off to once a second while the tree holds steady."""
    dog, kills = watchdog(FakeTree(tree_of(10 * MiB)), memory_bytes=64 * MiB, fastest=0.1)
    assert [dog.look() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert kills == [] and dog.exceeded is None


def test_over_the_memory_cap_the_tree_is_killed_once_and_reported_out_of_memory() -> None:
    tree = FakeTree(tree_of(10 * MiB), tree_of(80 * MiB, tasks=99), tree_of(90 * MiB))
    dog, kills = watchdog(tree, memory_bytes=64 * MiB, max_tasks=8)
    dog.look()
    assert kills == [] and not dog.out_of_memory
    dog.look()
    assert kills == ["kill"] and dog.exceeded == "memory" and dog.out_of_memory
    dog.look()
    assert kills == ["kill"]  # killed once; the first breach is what is reported


class FakeMember:
    """A member process whose kill the test sees."""

    def __init__(self) -> None:
        self.killed = 0

    def kill(self) -> None:
        self.killed += 1


def test_over_the_memory_cap_an_independent_tree_loses_its_largest_member_only() -> None:
    """`oom_group` False (a zygote and its children): the largest member is killed, once, the
    tree is not, and the watch goes on to the next breach."""
    zygote, child, hog = FakeMember(), FakeMember(), FakeMember()
    members: dict[int, Any] = {1: zygote, 2: child, 3: hog}
    over = TreeSample(members, 3, 300 * MiB, {1: 40 * MiB, 2: 60 * MiB, 3: 200 * MiB})
    dog, kills = watchdog(FakeTree(over), memory_bytes=256 * MiB, oom_group=False)
    dog.look()
    dog.look()  # the hog is still dying: not killed or counted again
    assert (hog.killed, child.killed, zygote.killed) == (1, 0, 0)
    assert kills == [] and dog.exceeded is None and not dog.out_of_memory
    assert dog.memory_kills == 1
    dog.tree = FakeTree(
        TreeSample({1: zygote, 2: child}, 2, 300 * MiB, {1: 40 * MiB, 2: 260 * MiB})
    )
    dog.look()
    assert child.killed == 1 and dog.memory_kills == 2


def test_over_the_task_cap_an_independent_tree_loses_its_busiest_member_only() -> None:
    """`oom_group` False: a child that starts threads without end is killed, not the tree (its
    siblings and the zygote), and it is no kill for memory."""
    zygote, child, bomb = FakeMember(), FakeMember(), FakeMember()
    members: dict[int, Any] = {1: zygote, 2: child, 3: bomb}
    over = TreeSample(
        members, 90, 30 * MiB, {1: 20 * MiB, 2: 8 * MiB, 3: 2 * MiB}, {1: 1, 2: 4, 3: 85}
    )
    dog, kills = watchdog(FakeTree(over), memory_bytes=256 * MiB, max_tasks=64, oom_group=False)
    dog.look()
    dog.look()  # still dying: not killed again
    assert (bomb.killed, child.killed, zygote.killed) == (1, 0, 0)
    assert kills == [] and dog.exceeded is None
    assert (dog.task_kills, dog.memory_kills) == (1, 0)


def test_over_the_task_cap_the_tree_is_killed_but_not_out_of_memory() -> None:
    dog, kills = watchdog(FakeTree(tree_of(10 * MiB, tasks=9)), memory_bytes=64 * MiB, max_tasks=8)
    dog.look()
    assert kills == ["kill"] and dog.exceeded == "processes" and not dog.out_of_memory


def test_without_a_task_cap_tasks_are_only_watched() -> None:
    dog, kills = watchdog(FakeTree(tree_of(10 * MiB, tasks=500)), memory_bytes=None)
    dog.look()
    assert kills == [] and dog.exceeded is None


def test_a_failed_look_is_retried_at_the_fastest_pace() -> None:
    tree = FakeTree(tree_of(10 * MiB), tree_of(10 * MiB), OSError("EMFILE"), tree_of(90 * MiB))
    dog, kills = watchdog(tree, memory_bytes=64 * MiB)
    assert [dog.look() for _ in range(3)] == [POLL_SECONDS, 2 * POLL_SECONDS, POLL_SECONDS]
    dog.look()
    assert kills == ["kill"] and dog.out_of_memory


async def test_run_ends_when_the_process_exits_without_waiting_for_its_next_look() -> None:
    exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    dog, kills = watchdog(FakeTree(tree_of(10 * MiB)), memory_bytes=64 * MiB, slowest=3600.0)
    running = asyncio.ensure_future(dog.run(stopped=exited.done, exited=exited))
    for _ in range(20):  # a steady tree: the wait grows towards an hour
        await asyncio.sleep(0)
    exited.set_result(None)
    await asyncio.wait_for(running, 5)  # the deadline is far below the hour it was waiting
    assert kills == []


async def test_run_ends_with_the_kill() -> None:
    dog, kills = watchdog(FakeTree(tree_of(10 * MiB), tree_of(90 * MiB)), memory_bytes=64 * MiB)
    await asyncio.wait_for(dog.run(stopped=lambda: False), 5)
    assert kills == ["kill"] and dog.exceeded == "memory"


async def test_run_reads_the_tree_off_the_loop_and_kills_on_it() -> None:
    threads: list[int] = []

    class ThreadNotingTree(FakeTree):
        def look(self) -> TreeSample:
            threads.append(threading.get_ident())
            return super().look()

    loop_thread = threading.get_ident()
    kill_threads: list[int] = []
    tree = ThreadNotingTree(tree_of(10 * MiB), tree_of(90 * MiB))
    dog = Watchdog(
        tree, kill=lambda: kill_threads.append(threading.get_ident()), memory_bytes=64 * MiB
    )
    await asyncio.wait_for(dog.run(stopped=lambda: False), 5)
    assert threads and loop_thread not in threads  # /proc is walked in a thread
    assert kill_threads == [loop_thread]  # the kill touches asyncio: on the loop


GROWS_ON_DEMAND = textwrap.dedent("""
    import subprocess, sys, time
    print("ready", flush=True)
    sys.stdin.readline()
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; x = bytearray(b'x' * (96 << 20)); print(1, flush=True); sys.stdin.read()"],
        stdout=subprocess.PIPE, stdin=subprocess.PIPE,
    )
    child.stdout.readline()
    print("grown", flush=True)
    time.sleep(60)
""")


def test_the_look_after_a_child_grew_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen refresh: each look lists the tree anew (the jail's old way), not from a list up to a
    second old (the unjailed spawner's old way), so a child started and grown since the last look
    is caught at the very next one."""
    monkeypatch.setattr(proctree, "SCAN_SHARED_SECONDS", 0.0)  # no other look shares a scan here
    root = subprocess.Popen(
        [sys.executable, "-c", GROWS_ON_DEMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert root.stdin and root.stdout and root.stdout.readline() == b"ready\n"
        tree = ProcessTree(root.pid)
        baseline = tree.look().private_bytes
        dog, kills = watchdog(tree, memory_bytes=baseline + 64 * MiB)
        dog.look()
        assert kills == []
        root.stdin.write(b"go\n")
        root.stdin.flush()
        assert root.stdout.readline() == b"grown\n"
        dog.look()
        assert kills == ["kill"] and dog.out_of_memory
    finally:
        kill_members(sample_tree(root.pid).members.values())
        root.wait(5)
