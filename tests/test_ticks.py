"""Timers on a shared grid fire together."""

from __future__ import annotations

import asyncio

import pytest

from proofgate.ticks import grid_delay, sleep_on_grid


@pytest.mark.parametrize("now", [0.0, 0.3, 0.999, 1.0, 12345.678])
def test_the_delay_ends_on_the_next_multiple_of_the_period(now: float) -> None:
    delay = grid_delay(1.0, now)
    assert 0 < delay <= 1.0
    assert abs((now + delay) - round(now + delay)) < 1e-6


def test_periods_that_divide_each_other_share_their_grid_points() -> None:
    now = 7.31
    assert abs((now + grid_delay(1.0, now)) - 8.0) < 1e-9
    assert abs((now + grid_delay(0.2, now) + 0.2 * 3) - 8.0) < 1e-9  # 7.4, 7.6, 7.8, 8.0


async def test_sleepers_that_start_apart_wake_in_the_same_pass() -> None:
    loop = asyncio.get_running_loop()
    woke: list[float] = []

    async def sleeper(start_after: float) -> None:
        await asyncio.sleep(start_after)
        await sleep_on_grid(0.5)
        woke.append(loop.time())

    await sleep_on_grid(0.5)  # just past a grid point: every start below is before the next one
    await asyncio.gather(*(sleeper(d) for d in (0.0, 0.05, 0.1, 0.15)))
    assert max(woke) - min(woke) < 0.02
