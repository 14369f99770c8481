"""An elaboration zygote's protocol and its children's confinement, on the stand-in zygote
(`tests/standins/zygote.py`), unjailed and in the jail (docs/audit-design.md, step 7). Each
hostile attempt is made for real by a child; its reply says what the attempt met."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pyseccomp
import pytest

from proofgate.config import Settings
from proofgate.exceptions import ZygoteFailed
from proofgate.lean.zygote import ChildOutcome, Zygote, _Child, _Waiting
from proofgate.lean.zygote_children import ChildrenOnHost
from proofgate.sandbox import BwrapSpawner
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits, Spawner, SpawnSpec
from tests.support.ci_gate import IN_CI
from tests.support.jail import PYTHON, PYTHON_HOME
from tests.support.waiting import DEADLINE_SECONDS, until, until_async

STANDIN = Path(__file__).resolve().parents[1] / "standins" / "zygote.py"
#: The bench's simulated zygote, whose serving loop the stand-in shares.
BENCH = Path(__file__).resolve().parents[2] / "src" / "proofgate" / "bench"
#: Where pyseccomp lives (the stand-in's seccomp binding), mounted into the jail read-only.
SECCOMP_HOME = Path(pyseccomp.__file__).resolve().parent
CAPS = {"max_reply_bytes": 1 << 16, "max_export_bytes": 1 << 16}


def _spec(import_seconds: float = 0.0) -> SpawnSpec:
    return SpawnSpec(
        argv=[PYTHON, "-S", str(STANDIN), "--import-seconds", str(import_seconds)],
        cwd=Path("/scratch"),
        env={"PYTHONPATH": str(SECCOMP_HOME)},
        read_only=(PYTHON_HOME, SECCOMP_HOME, STANDIN.parent, BENCH),
        scratch=False,
    )


def _jail(settings: Settings) -> BwrapSpawner:
    if shutil.which("bwrap") is None and not IN_CI:
        pytest.skip("bubblewrap (bwrap) not installed: apt-get install bubblewrap")
    return BwrapSpawner(settings)


async def _start(spawner: Spawner, tmp_path: Path, limits: Limits | None = None) -> Zygote:
    spec = _spec()
    if isinstance(spawner, ProcessGroupSpawner):  # no /scratch outside the jail
        spec = SpawnSpec(argv=spec.argv, cwd=tmp_path, env=spec.env)
    return await Zygote.start(
        Launch(spawner, spec, limits or Limits()), ready_timeout=DEADLINE_SECONDS
    )


@pytest.fixture(params=["unjailed", "jailed"])
async def zygote(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[Zygote]:
    spawner = ProcessGroupSpawner() if request.param == "unjailed" else _jail(settings)
    started = await _start(spawner, tmp_path)
    yield started
    await started.close()


@pytest.fixture
async def jailed_zygote(settings: Settings, tmp_path: Path) -> AsyncIterator[Zygote]:
    """Isolation between children is promised in the jail only: unjailed (a development setting)
    a child has the service's own capabilities, root's CAP_SYS_PTRACE among them here."""
    started = await _start(_jail(settings), tmp_path)
    yield started
    await started.close()


async def _run(zygote: Zygote, body: str, *, timeout: float = DEADLINE_SECONDS) -> ChildOutcome:
    request = json.dumps({"body": body}).encode()
    return await zygote.run(request, timeout=timeout, **CAPS)


def _reply(outcome: ChildOutcome) -> dict[str, object]:
    assert outcome.returncode == 0, outcome
    return dict(json.loads(outcome.reply.splitlines()[0]))


async def test_each_request_gets_a_child_of_its_own(zygote: Zygote) -> None:
    first, second = await asyncio.gather(
        _run(zygote, "theorem a : True := trivial"), _run(zygote, "theorem b : True := trivial")
    )
    assert first.export == b"theorem a : True := trivial"
    assert second.export == b"theorem b : True := trivial"
    assert _reply(first)["request"] != _reply(second)["request"]
    assert zygote.process.returncode is None  # the zygote serves on


async def test_a_child_past_its_deadline_or_its_cap_is_killed_and_the_zygote_serves_on(
    zygote: Zygote,
) -> None:
    late = await _run(zygote, "-- zygote: sleep 600", timeout=0.5)
    assert late.timed_out and late.returncode == -9
    flood = await _run(zygote, "-- zygote: flood 200000")
    assert flood.over_limit == "reply" and len(flood.reply) == CAPS["max_reply_bytes"]
    assert _reply(await _run(zygote, "theorem c : True := trivial"))["messages"] == []


async def test_a_run_whose_caller_left_leaves_the_next_childs_pipes_alone(zygote: Zygote) -> None:
    # a check cancelled mid-run (its client gone, or its statement failed first): its pipes are
    # closed only once nothing watches them, so the next child's pipes, given the same numbers,
    # are watched for that child
    for _ in range(2):
        left = asyncio.ensure_future(_run(zygote, "-- zygote: sleep 600"))
        # its child and the next one's (forked ahead) both started, its pipes watched
        await until_async(
            lambda: (
                len(zygote._waiting) == 2
                and all(w.started.done() for w in zygote._waiting.values())
            )
        )
        await asyncio.sleep(0.05)
        left.cancel()
        with pytest.raises(asyncio.CancelledError):
            await left
        served = await _run(zygote, "theorem e : True := trivial")
        assert served.export == b"theorem e : True := trivial", served
        assert _reply(served)["messages"] == []


async def test_the_next_child_is_forked_ahead_and_one_that_died_waiting_is_not_used(
    tmp_path: Path,
) -> None:
    # the fork (a copy of an imported Mathlib's page tables) is off the request's path; a child
    # that died before its request came is replaced, never handed a request
    zygote = await _start(ProcessGroupSpawner(), tmp_path)
    try:
        parent = psutil.Process(zygote.process.pid)
        await until_async(lambda: len(parent.children()) == 1)  # before any request
        (ahead,) = parent.children()
        ahead.kill()
        spare = zygote._spare
        await until_async(lambda: spare is not None and spare.waiting.exited.done())
        served = await _run(zygote, "theorem f : True := trivial")
        assert served.returncode == 0 and served.export == b"theorem f : True := trivial", served
        await until_async(lambda: len(parent.children()) == 1)  # the next one, forked ahead
        assert parent.children()[0].pid != ahead.pid
    finally:
        await zygote.close()


async def test_a_request_that_is_not_exactly_a_body_ends_its_child(zygote: Zygote) -> None:
    # as proofgate-elab's child refuses it (exit 1); the zygote serves on
    for request in ({"body": "x", "header": "import Mathlib"}, {"body": 1}, ["x"]):
        outcome = await zygote.run(json.dumps(request).encode(), timeout=DEADLINE_SECONDS, **CAPS)
        assert outcome.returncode == 1 and outcome.reply == b"", (request, outcome)
    assert _reply(await _run(zygote, "theorem d : True := trivial"))["messages"] == []


async def test_a_child_over_its_memory_is_killed_alone(zygote: Zygote) -> None:
    sibling = asyncio.ensure_future(_run(zygote, "-- zygote: sleep 1\nhonest sibling"))
    cap = 96 << 20
    hog = await zygote.run(
        json.dumps({"body": "-- zygote: grow 400"}).encode(),
        timeout=DEADLINE_SECONDS,
        child_limits=Limits(memory_bytes=cap, max_processes=None),
        **CAPS,
    )
    assert hog.over_limit == "memory" and hog.returncode == -9 and not hog.timed_out, hog
    honest = await sibling
    assert honest.returncode == 0 and honest.export == b"-- zygote: sleep 1"


HOSTILE = {
    # name: the errnos that show the rule held (a sibling's /proc files are closed to a
    # same-uid peer once the zygote made itself non-dumpable; the rest is the child's filter)
    "sibling-fd": {errno.EACCES, errno.EPERM},
    "sibling-mem": {errno.EACCES, errno.EPERM},
    "sibling-environ": {errno.EACCES, errno.EPERM},
    "ptrace-sibling": {errno.EPERM},
    "signal-sibling": {errno.EPERM},
    "signal-zygote": {errno.EPERM},
    "pidfd-signal-sibling": {errno.EPERM},
    "abstract-socket": {errno.EPERM},
    "exec": {errno.EPERM},
    "fork": {errno.EPERM},
    # the zygote's jail has no writable path (`SpawnSpec.scratch=False`), its /tmp included
    "write-file": {errno.EROFS},
}


async def test_a_child_cannot_reach_a_sibling_or_the_zygote(jailed_zygote: Zygote) -> None:
    zygote = jailed_zygote
    sibling = asyncio.ensure_future(_run(zygote, "-- zygote: sleep 3\nhonest sibling"))
    tries = "\n".join(f"-- zygote: try {name}" for name in HOSTILE)
    await asyncio.sleep(0.2)  # the sibling is forked first (commands are served in order)
    attempts = _reply(await _run(zygote, tries))["attempts"]
    assert isinstance(attempts, dict) and set(attempts) == set(HOSTILE)
    for name, held in HOSTILE.items():
        assert attempts[name] in held, (name, attempts[name])
    honest = await sibling
    assert honest.export == b"-- zygote: sleep 3" and honest.returncode == 0
    assert zygote.process.returncode is None


async def test_a_program_that_never_says_ready_is_no_zygote(tmp_path: Path) -> None:
    spec = SpawnSpec(argv=[sys.executable, "-c", "print('hello')"], cwd=tmp_path)
    with pytest.raises(ZygoteFailed, match="did not start"):
        await Zygote.start(
            Launch(ProcessGroupSpawner(), spec, Limits()), ready_timeout=DEADLINE_SECONDS
        )


async def test_a_cancellation_that_meets_a_killed_childs_exit_is_not_swallowed(
    tmp_path: Path,
) -> None:
    """The caller gives up in the loop turn the killed child's exit comes: the kill's wait must
    end in CancelledError (asyncio.wait_for on Python 3.11 returns and loses the cancel)."""
    zygote = await _start(ProcessGroupSpawner(), tmp_path)
    try:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(started=loop.create_future(), exited=loop.create_future())
        killing = asyncio.create_task(zygote._kill(10**6, waiting))  # an identity it never had
        await asyncio.sleep(0)  # the kill is sent and waits for the exit
        assert not killing.done()
        waiting.exited.set_result(-9)
        loop.call_soon(killing.cancel)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(killing, DEADLINE_SECONDS)
    finally:
        await zygote.close()


async def test_a_spare_that_dies_before_its_request_is_replaced_by_a_fresh_child(
    tmp_path: Path,
) -> None:
    """The child forked ahead is taken alive and killed before its request is written (the
    narrow window the take's own check cannot see): its request was never read, so the request
    runs on a child forked for it, not reported as a crash."""
    zygote = await _start(ProcessGroupSpawner(), tmp_path)
    try:
        spare = zygote._spare
        assert spare is not None
        lost = await asyncio.wait_for(asyncio.shield(spare.waiting.started), DEADLINE_SECONDS)
        take = zygote._take_spare

        def take_then_kill() -> _Child | None:
            child = take()
            assert child is spare  # alive when taken
            os.kill(lost, signal.SIGKILL)
            # its pipe ends close as it dies, before the zygote reaps it
            assert until(lambda: _dead(lost))
            return child

        zygote._take_spare = take_then_kill  # type: ignore[method-assign]
        outcome = await _run(zygote, "theorem a : True := trivial")
        assert outcome.export == b"theorem a : True := trivial"
        assert outcome.request_taken
        assert _reply(outcome)["request"] != spare.identity  # a child forked for it
    finally:
        await zygote.close()


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("watch", ["cgroup", "jail watchdog", "unjailed watchdog"])
async def test_a_child_killed_at_the_zygotes_memory_cap_dies_alone_and_is_out_of_memory(
    watch: str, settings: Settings, tmp_path: Path
) -> None:
    """No per-child cap here: the child reaches its zygote's tree cap, where the kernel (the
    jail's cgroup) or the watchdog (no cgroup) kills it. It alone dies (`Limits.oom_group`
    False: the largest process, not the tree), its check is out of memory, and its sibling and
    the zygote serve on (killing the whole tree, the sibling died with it and the zygote was
    gone)."""
    limits = Limits(memory_bytes=160 << 20, oom_group=False)
    spawner: Spawner
    if watch == "unjailed watchdog":
        spawner = ProcessGroupSpawner()
    elif watch == "jail watchdog":
        _jail(settings)  # bwrap is here
        spawner = BwrapSpawner(settings, cgroup_root=tmp_path / "no-cgroups-here")
    else:
        spawner = _jail(settings)
        if spawner.cgroups is None and not IN_CI:
            pytest.skip("no writable cgroup here: the jail's memory cap is the RSS watchdog's")
    zygote = await _start(spawner, tmp_path, limits)
    try:
        sibling = asyncio.ensure_future(_run(zygote, "-- zygote: sleep 2\nhonest sibling"))
        hog = await _run(zygote, "-- zygote: grow 600")
        assert hog.over_limit == "memory" and hog.returncode == -9 and not hog.timed_out, hog
        honest = await sibling
        assert honest.returncode == 0 and honest.export == b"-- zygote: sleep 2", honest
        assert zygote.process.returncode is None and zygote.broken is None
        after = await _run(zygote, "theorem e : True := trivial")
        assert after.export == b"theorem e : True := trivial"
    finally:
        await zygote.close()


async def test_a_thread_bomb_in_one_child_leaves_its_siblings_and_the_zygote_their_tasks(
    settings: Settings, tmp_path: Path
) -> None:
    """Each child lives in a cgroup of its own (`Limits.member_cgroups`), moved there before it
    reads its request: a child that starts threads without end meets its own task cap. Without
    it, the child took every task of the zygote's jail: its sibling could start no thread and
    the zygote could fork no child for the next request (fails on the code before)."""
    spawner = _jail(settings)
    if spawner.cgroups is None and not IN_CI:
        pytest.skip("no writable cgroup here: children are capped by the watchdog's looks alone")
    per_child = 12
    limits = Limits(max_processes=3 * per_child, oom_group=False, member_cgroups=True)
    zygote = await _start(spawner, tmp_path, limits)
    jail = zygote.process.cgroup  # type: ignore[attr-defined]  # a JailedProcess's
    tops = [Path(d) for d in jail._directories()]

    async def run(body: str) -> ChildOutcome:
        request = json.dumps({"body": body}).encode()
        return await zygote.run(
            request, timeout=DEADLINE_SECONDS, child_limits=Limits(max_processes=per_child), **CAPS
        )

    def a_task_cap_was_met() -> bool:  # the jail's or a member's
        return any("max 0" not in e.read_text() for top in tops for e in top.rglob("pids.events"))

    try:
        bomb = asyncio.ensure_future(run("-- zygote: threads 100000\n-- zygote: sleep 600"))
        assert await until_async(a_task_cap_was_met)
        sibling = await run("-- zygote: threads 4\nhonest sibling")
        assert _reply(sibling)["threads"] == 4, sibling
        assert not bomb.done()  # the bomb still holds every task it got
        bomb.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bomb
        # a child that cannot go on without its thread (aborts, as a runtime would): its outcome
        # says it reached its cap
        strict = await run("-- zygote: threads 100000 strict")
        assert strict.returncode == -signal.SIGABRT and strict.over_limit == "processes", strict
        after = await run("theorem f : True := trivial")
        assert after.export == b"theorem f : True := trivial"
        assert zygote.broken is None
    finally:
        await zygote.close()
    assert not any(top.exists() for top in tops)  # the jail's cgroup went, its members with it


async def test_a_child_past_its_memory_faster_than_any_look_is_killed_by_its_own_cgroup(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The looks at a child's memory never fire here (as if it grew between two): its own
    cgroup's cap is what stops it, the kernel's kill is read as out of memory, and the jail,
    which has no memory cap of its own here, is not what held it."""
    spawner = _jail(settings)
    if spawner.cgroups is None and not IN_CI:
        pytest.skip("no writable cgroup here: children are capped by the watchdog's looks alone")

    async def never(self: ChildrenOnHost, host: int, cap: int) -> None:
        await asyncio.get_running_loop().create_future()

    monkeypatch.setattr(ChildrenOnHost, "past_memory", never)
    limits = Limits(memory_bytes=None, oom_group=False, member_cgroups=True)
    zygote = await _start(spawner, tmp_path, limits)
    try:
        hog = await zygote.run(
            json.dumps({"body": "-- zygote: grow 400"}).encode(),
            timeout=DEADLINE_SECONDS,
            child_limits=Limits(memory_bytes=96 << 20, max_processes=None),
            **CAPS,
        )
        assert hog.over_limit == "memory" and hog.returncode == -9 and not hog.timed_out, hog
        assert _reply(await _run(zygote, "theorem g : True := trivial"))["messages"] == []
    finally:
        await zygote.close()


async def test_without_a_cgroup_a_thread_bomb_is_killed_alone_by_the_jails_watchdog(
    settings: Settings, tmp_path: Path
) -> None:
    """No writable cgroup: nothing caps a child's threads as they start, and the jail's watchdog
    finds the tree over its task cap. The zygote's jail holds independent processes
    (`Limits.oom_group` False), so it kills the member with the most threads, the bomb, not the
    tree: its sibling and the zygote serve on (killing the tree, both were gone)."""
    _jail(settings)  # bwrap is here
    spawner = BwrapSpawner(settings, cgroup_root=tmp_path / "no-cgroups-here")
    limits = Limits(max_processes=36, oom_group=False, member_cgroups=True)
    zygote = await _start(spawner, tmp_path, limits)
    try:
        bomb = await _run(zygote, "-- zygote: threads 300\n-- zygote: sleep 600")
        assert bomb.returncode == -9 and bomb.over_limit == "processes", bomb
        sibling = await _run(zygote, "-- zygote: threads 4\nhonest sibling")
        assert _reply(sibling)["threads"] == 4, sibling
        assert zygote.broken is None and zygote.process.returncode is None
    finally:
        await zygote.close()
