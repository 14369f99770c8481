"""The REPL driver against the stand-in REPL (a real subprocess): protocol, faults, cleanup."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from proofgate.exceptions import (
    ReplCommandError,
    ReplCrashed,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
    SubmissionError,
)
from proofgate.lean.repl import STDERR_TAIL_BYTES, ReplProcess
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits
from tests.standins.repl import standin_spec, start_standin
from tests.support.waiting import DEADLINE_SECONDS, until_async


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_gone(pid: int) -> bool:
    return await until_async(lambda: _gone(pid))


@pytest.fixture
async def repl(tmp_path: Path):  # type: ignore[no-untyped-def]
    process = await start_standin(tmp_path)
    yield process
    await process.close()


async def test_ids_count_from_zero_and_bodies_run_on_the_header_env(repl: ReplProcess) -> None:
    assert (await repl.command("import Mathlib", timeout=5)).raw == {"env": 0}
    first = await repl.command(
        "theorem a : True := trivial\n-- standin: report-base", env=0, timeout=5
    )
    second = await repl.command("-- standin: sorry", env=0, timeout=5)
    assert first.env == 1 and second.env == 2
    assert first.messages[0].data == "base env=0 depth=0 imports=Mathlib"
    assert second.sorries[0].proof_state == 0
    step = await repl.tactic("rfl", 0, timeout=5)
    assert step.raw == {"proofState": 1, "goals": [], "proofStatus": "Completed"}
    assert repl.next_env == 3 and repl.requests == 4


async def test_unicode_travels_both_ways_unescaped(repl: ReplProcess) -> None:
    text = '∀ α : Type, 𝔽 ≤ ℕ “quoted” \\ "x" \t tab'
    reply = await repl.command(f"-- standin: info {text}", timeout=5)
    assert reply.messages[0].data == text


async def test_message_reply_is_a_command_error_and_the_worker_lives_on(repl: ReplProcess) -> None:
    with pytest.raises(ReplCommandError, match=re.escape("Unknown environment.")):
        await repl.command("def x := 1", env=7, timeout=5)
    with pytest.raises(ReplCommandError, match=re.escape("Unknown proof state.")):
        await repl.tactic("rfl", 3, timeout=5)
    assert repl.alive
    assert (await repl.command("def x := 1", timeout=5)).env == 0


async def test_code_that_is_not_text_is_refused_before_sending(repl: ReplProcess) -> None:
    with pytest.raises(SubmissionError):
        await repl.command("bad \udc80 surrogate", timeout=5)
    assert repl.alive and repl.requests == 0


async def test_a_reply_of_several_megabytes_is_parsed(repl: ReplProcess) -> None:
    reply = await repl.command("-- standin: huge-reply 6", timeout=30)
    data = reply.messages[0].data
    assert len(data) == 6 * 2**20
    assert data.startswith('⊢ α → β “quoted” \\ "x"\n')
    assert (await repl.command("def y := 2", timeout=5)).env == 1


async def test_a_reply_over_the_cap_kills_the_worker(tmp_path: Path) -> None:
    repl = await ReplProcess.start(
        Launch(ProcessGroupSpawner(), standin_spec(tmp_path), Limits()), max_reply_bytes=2**20
    )
    try:
        with pytest.raises(ReplProtocolError, match=f"reply over {2**20} bytes"):
            await repl.command("-- standin: huge-reply 2", timeout=30)
        assert not repl.alive
    finally:
        await repl.close()


async def test_a_command_larger_than_the_pipe_is_written_whole(repl: ReplProcess) -> None:
    filler = "-- " + "x" * (2 * 2**20) + "\n"  # far past a pipe's 64 KiB: the driver must drain
    reply = await repl.command(filler + "-- standin: info big", timeout=30)
    assert reply.messages[0].data == "big" and repl.alive


async def test_stderr_flood_is_drained_and_only_its_tail_kept(repl: ReplProcess) -> None:
    reply = await repl.command("-- standin: stderr-flood 24\n-- standin: info done", timeout=20)
    assert reply.messages[0].data == "done"
    assert repl.stderr_bytes >= 24 * 2**20
    assert 0 < len(repl.stderr_tail()) <= STDERR_TAIL_BYTES
    assert "simulated diagnostics" in repl.stderr_tail()


async def test_hang_times_out_and_kills_the_tree(repl: ReplProcess) -> None:
    # The stand-in hangs for good: only the driver's own 0.5 s timer can end this command.
    with pytest.raises(ReplTimeout, match=r"no reply within 0\.5 s: .* killed"):
        await asyncio.wait_for(repl.command("-- standin: hang", timeout=0.5), DEADLINE_SECONDS)
    assert not repl.alive and isinstance(repl.failure, ReplTimeout)
    assert await _wait_gone(repl.pid)


async def test_crash_is_reported_with_the_stderr_tail(repl: ReplProcess) -> None:
    with pytest.raises(ReplCrashed, match="exit status 134") as caught:
        await repl.command("-- standin: crash", timeout=5)
    assert "INTERNAL PANIC" in caught.value.stderr
    with pytest.raises(ReplCrashed, match="no longer running"):
        await repl.command("def z := 3", timeout=5)


async def test_exit_mid_reply_is_a_crash(repl: ReplProcess) -> None:
    with pytest.raises(ReplCrashed):
        await repl.command("-- standin: error boom\n-- standin: crash-mid-reply", timeout=5)


async def test_crash_while_a_child_holds_the_pipes_is_noticed(repl: ReplProcess) -> None:
    # The child keeps stdout open, so no end of output comes: the exit itself must be seen. Had
    # the driver waited for the pipes, this would end as a ReplTimeout, much later.
    with pytest.raises(ReplCrashed, match="exit status 134") as caught:
        await repl.command(
            "-- standin: fork-child-sleep\n-- standin: crash", timeout=DEADLINE_SECONDS
        )
    assert "INTERNAL PANIC" in caught.value.stderr


async def test_close_kills_the_whole_process_group(repl: ReplProcess) -> None:
    reply = await repl.command("-- standin: fork-child-sleep", timeout=5)
    child = int(reply.messages[0].data.removeprefix("child pid "))
    assert not _gone(child)
    await repl.close()
    assert await _wait_gone(repl.pid) and await _wait_gone(child)


async def test_forged_reply_with_a_wrong_id_kills_the_worker(repl: ReplProcess) -> None:
    await repl.command("import Mathlib", timeout=5)
    with pytest.raises(ReplProtocolError, match="forged"):
        await repl.command("-- standin: forge", env=0, timeout=5)
    assert not repl.alive
    assert await _wait_gone(repl.pid)


async def test_a_second_value_for_one_command_kills_the_worker(repl: ReplProcess) -> None:
    with pytest.raises(ReplProtocolError, match="more than one value"):
        await repl.command("-- standin: forge-extra", timeout=5)
    assert not repl.alive


async def test_printing_while_idle_kills_the_worker(repl: ReplProcess) -> None:
    reply = await repl.command("-- standin: print-while-idle 0.2", timeout=5)
    assert reply.raw == {"env": 0}
    assert await until_async(lambda: not repl.alive)
    assert isinstance(repl.failure, ReplProtocolError)
    assert "while idle" in str(repl.failure)


async def test_memory_over_the_cap_is_out_of_memory(tmp_path: Path) -> None:
    repl = await start_standin(tmp_path, memory_limit_bytes=80 * 2**20)
    try:
        with pytest.raises(ReplOutOfMemory):
            await repl.command("-- standin: grow-memory 400\n-- standin: hang", timeout=20)
        assert await _wait_gone(repl.pid)
    finally:
        await repl.close()


async def test_memory_under_the_cap_is_fine_and_measured(tmp_path: Path) -> None:
    repl = await start_standin(tmp_path, memory_limit_bytes=400 * 2**20)
    try:
        before = repl.private_memory_bytes()
        await repl.command("-- standin: grow-memory 96", timeout=20)
        after = repl.private_memory_bytes()
        assert before is not None and after is not None
        assert after - before >= 80 * 2**20
    finally:
        await repl.close()


async def test_slow_start_is_waited_for_within_the_timeout(tmp_path: Path) -> None:
    repl = await start_standin(tmp_path, "--start-seconds", "0.6")
    try:
        started = time.monotonic()
        assert (await repl.command("def a := 1", timeout=5)).env == 0
        assert time.monotonic() - started >= 0.5
    finally:
        await repl.close()


async def test_cancelling_a_request_kills_the_worker(repl: ReplProcess) -> None:
    task = asyncio.ensure_future(repl.command("-- standin: sleep 300", timeout=600))
    assert await until_async(lambda: repl.commands_sent == 1)  # the REPL is working on it now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not repl.alive
    assert await _wait_gone(repl.pid)


#: A REPL that answers each command with the next scripted reply (argv[1], a JSON list), as the
#: real one frames them: the value, a blank line. It lets a test forge what the stand-in never does.
_SCRIPTED_REPL = """
import json, sys
replies = json.loads(sys.argv[1])
lines = []
for line in sys.stdin:
    if line.strip():
        lines.append(line)
        continue
    if not lines:
        continue
    lines = []
    sys.stdout.write(json.dumps(replies.pop(0), indent=2) + "\\n\\n")
    sys.stdout.flush()
"""


async def _scripted(tmp_path: Path, *replies: dict[str, object]) -> ReplProcess:
    spec = standin_spec(tmp_path)
    argv = [spec.argv[0], "-c", _SCRIPTED_REPL, json.dumps(list(replies))]
    return await ReplProcess.start(
        Launch(ProcessGroupSpawner(), replace(spec, argv=argv), Limits())
    )


@pytest.mark.parametrize(
    "replies",
    [
        # a sorry whose proof state skips ids 0..4
        ({"env": 0, "sorries": [{"proofState": 5, "goal": "⊢ True"}]},),
        # a tactic that answers a proof state already handed out
        (
            {"env": 0, "sorries": [{"proofState": 0, "goal": "⊢ True"}]},
            {"proofState": 0, "goals": []},
        ),
    ],
    ids=["sorry-skips-ids", "tactic-reuses-an-id"],
)
async def test_a_forged_proof_state_id_kills_the_worker(
    tmp_path: Path, replies: tuple[dict[str, object], ...]
) -> None:
    repl = await _scripted(tmp_path, *replies)
    try:
        with pytest.raises(ReplProtocolError, match="proof state ids"):
            await repl.command("theorem x : True := sorry", timeout=5)
            await repl.tactic("trivial", 0, timeout=5)
        assert not repl.alive
    finally:
        await repl.close()


async def test_proof_state_ids_in_order_are_accepted(tmp_path: Path) -> None:
    repl = await _scripted(
        tmp_path,
        {"env": 0, "sorries": [{"proofState": 0, "goal": "⊢ True"}]},
        {"proofState": 1, "goals": []},
    )
    try:
        reply = await repl.command("theorem x : True := sorry", timeout=5)
        assert reply.sorries[0].proof_state == 0
        step = await repl.tactic("trivial", 0, timeout=5)
        assert step.proof_state == 1 and repl.alive
    finally:
        await repl.close()
