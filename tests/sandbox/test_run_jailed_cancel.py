"""`run_jailed` and a caller that gives up in the very loop turn its process ends: the caller's
cancellation must win (asyncio.wait_for on Python 3.11 returns the finished result instead and
the caller goes on as if it had not been cancelled)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proofgate.sandbox.bwrap import run_jailed
from proofgate.sandbox.process import Limits, SpawnSpec


class EndedByTheTest:
    """A process whose pipes and exit the test ends: stdout and stderr at EOF at once, the exit
    when the test sets it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pid = 424242
        self.stdout = asyncio.StreamReader()
        self.stderr = asyncio.StreamReader()
        self.stdout.feed_eof()
        self.stderr.feed_eof()
        self.stdin = _NoInput()
        self.exited: asyncio.Future[int] = loop.create_future()
        self.killed = 0

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self.exited)

    def kill(self) -> None:
        self.killed += 1
        if not self.exited.done():
            self.exited.set_result(-9)

    def out_of_memory(self) -> bool:
        return False

    limit_exceeded = None


class _NoInput:
    def close(self) -> None:
        pass


class OneProcess:
    name = "test"

    def __init__(self, process: EndedByTheTest) -> None:
        self.process = process

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> EndedByTheTest:
        return self.process


async def test_a_cancellation_that_meets_the_exit_is_not_swallowed() -> None:
    loop = asyncio.get_running_loop()
    process = EndedByTheTest(loop)
    running = asyncio.ensure_future(
        run_jailed(OneProcess(process), SpawnSpec(argv=["x"], cwd=Path("/")), Limits(), timeout=60)  # type: ignore[arg-type]
    )
    for _ in range(5):  # the run reads both pipes to their end and waits for the exit
        await asyncio.sleep(0)
    assert not running.done()
    process.exited.set_result(0)
    for _ in range(2):  # the exit reaches the gather of the run's steps, not yet the run itself
        await asyncio.sleep(0)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 10)
