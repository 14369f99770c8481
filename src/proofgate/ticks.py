"""Periodic background work on a shared grid, so that it wakes an idle process once, not apart.

Each wake-up of an idle server costs CPU of its own (a pass of the event loop, cold caches). Nine
idle workers' memory looks, the pool's supervisor and the HTTP server's tick, each on its own
phase, woke it a dozen times a second. Timers that wait by `grid_delay(period)` end on the next
multiple of `period` on the loop's clock: every one of them with that period (or a period dividing
it) fires in the same pass of the loop.
"""

from __future__ import annotations

import asyncio

__all__ = ["grid_delay", "sleep_on_grid"]


def grid_delay(period: float, now: float | None = None) -> float:
    """Seconds from `now` (the running loop's clock by default) to the next multiple of `period`."""
    if now is None:
        now = asyncio.get_running_loop().time()
    return period - now % period


async def sleep_on_grid(period: float) -> None:
    """Sleep until the next multiple of `period` on the loop's clock (at most `period`)."""
    await asyncio.sleep(grid_delay(period))
