"""Timers on a shared grid fire together; a deadline never loses its caller's cancellation."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable

import pytest

from proofgate.ticks import grid_delay, sleep_on_grid, wait_for
from tests.support.waiting import DEADLINE_SECONDS


@pytest.mark.parametrize("now", [0.0, 0.3, 0.999, 1.0, 12345.678])
def test_the_delay_ends_on_the_next_multiple_of_the_period(now: float) -> None:
    delay = grid_delay(1.0, now)
    assert 0 < delay <= 1.0
    assert abs((now + delay) - round(now + delay)) < 1e-6


def test_periods_that_divide_each_other_share_their_grid_points() -> None:
    now = 7.31
    assert abs((now + grid_delay(1.0, now)) - 8.0) < 1e-9
    assert abs((now + grid_delay(0.2, now) + 0.2 * 3) - 8.0) < 1e-9  # 7.4, 7.6, 7.8, 8.0


class _JumpingSelector(selectors.DefaultSelector):
    """Never waits: where the loop would sleep until its next timer, the clock jumps there.
    Counts the loop's passes (one `select` each)."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.now = start
        self.passes = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.passes += 1
        if timeout:
            self.now += timeout
        return super().select(0)


class _VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on a clock of its own: timers fire at exactly their due time, however busy
    the machine is, and each pass of the loop is numbered. Every value here is a binary fraction,
    so the clock's arithmetic is exact."""

    def __init__(self) -> None:
        self.clock = _JumpingSelector(start=1000.25)
        super().__init__(self.clock)

    def time(self) -> float:
        return self.clock.now


StartsAndWakes = tuple[list[float], list[tuple[float, int]]]


def _sleepers_started_apart(wait: Callable[[], Awaitable[None]]) -> StartsAndWakes:
    """Four sleepers that start 1/16 s apart, just past a grid point, each then `wait()`ing once:
    when each started, and when and in which pass of the loop each woke."""
    started: list[float] = []
    woke: list[tuple[float, int]] = []

    async def sleeper(loop: _VirtualClockLoop, start_after: float) -> None:
        await asyncio.sleep(start_after)
        started.append(loop.time())
        await wait()
        woke.append((loop.time(), loop.clock.passes))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, _VirtualClockLoop)
        await sleep_on_grid(0.5)  # on a grid point: every start below is before the next one
        await asyncio.gather(*(sleeper(loop, d) for d in (0.0, 0.0625, 0.125, 0.1875)))

    loop = _VirtualClockLoop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return started, woke


def test_sleepers_that_start_apart_wake_in_the_same_pass() -> None:
    started, woke = _sleepers_started_apart(lambda: sleep_on_grid(0.5))
    assert started == [1000.5, 1000.5625, 1000.625, 1000.6875]
    assert [when for when, _ in woke] == [1001.0] * 4  # the next grid point, for each
    assert len({one_pass for _, one_pass in woke}) == 1  # one wake-up of the loop for all four


def test_plain_sleeps_from_the_same_starts_wake_in_as_many_passes() -> None:
    """The control: without the grid, the same four timers wake the loop four times."""
    started, woke = _sleepers_started_apart(lambda: asyncio.sleep(0.5))
    assert started == [1000.5, 1000.5625, 1000.625, 1000.6875]
    assert [when for when, _ in woke] == [1001.0, 1001.0625, 1001.125, 1001.1875]
    assert len({one_pass for _, one_pass in woke}) == 4


# --- wait_for: a deadline that never loses the caller's cancellation ------------------------------


async def test_the_result_comes_back_before_the_deadline() -> None:
    assert await wait_for(asyncio.sleep(0, result="done"), DEADLINE_SECONDS) == "done"


async def test_an_error_of_the_awaitable_is_raised() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await wait_for(fails(), DEADLINE_SECONDS)


async def test_past_the_deadline_it_times_out_and_the_awaitable_is_cancelled() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(asyncio.TimeoutError):
        await wait_for(never, 0.01)
    assert never.cancelled()


async def test_a_cancellation_that_meets_the_result_is_raised_not_swallowed() -> None:
    """The result and the cancel in one pass of the loop: asyncio.wait_for on Python 3.11
    returns the result and the caller goes on (this test fails with it)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    went_on: list[str] = []

    async def caller() -> None:
        went_on.append(await wait_for(answer, DEADLINE_SECONDS))

    task = asyncio.ensure_future(caller())
    await asyncio.sleep(0)  # the caller waits
    answer.set_result("late")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert went_on == []


async def test_a_cancelled_caller_cancels_what_it_waited_for() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(wait_for(never, DEADLINE_SECONDS))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert never.cancelled()
