"""Time on the event loop: periodic work on a shared grid, and deadlines that keep a cancellation.

Each wake-up of an idle server costs CPU of its own (a pass of the event loop, cold caches). Nine
idle workers' memory looks, the pool's supervisor and the HTTP server's tick, each on its own
phase, woke it a dozen times a second. Timers that wait by `grid_delay(period)` end on the next
multiple of `period` on the loop's clock: every one of them with that period (or a period dividing
it) fires in the same pass of the loop.

Python 3.11's `asyncio.wait_for` returns the result of an awaitable that finished in the same pass
of the loop as the caller's cancellation: the caller goes on as if it had not been cancelled (a
check whose client left starts its next step). `asyncio.wait` has no such window, so `wait_for`
here is built on it (`asyncio.timeout`, which has none either, needs Python 3.11).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["grid_delay", "sleep_on_grid", "wait_for"]

T = TypeVar("T")


def grid_delay(period: float, now: float | None = None) -> float:
    """Seconds from `now` (the running loop's clock by default) to the next multiple of `period`."""
    if now is None:
        now = asyncio.get_running_loop().time()
    return period - now % period


async def sleep_on_grid(period: float) -> None:
    """Sleep until the next multiple of `period` on the loop's clock (at most `period`)."""
    await asyncio.sleep(grid_delay(period))


async def wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:
    """The awaitable's result, or `asyncio.TimeoutError` after `timeout` seconds (it is then
    cancelled); a cancellation of the caller cancels it too and is raised, always."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_taken)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_taken)  # taken even if the caller is cancelled while it ends
        await asyncio.wait({task})  # raises only for the caller's own cancellation
        raise asyncio.TimeoutError
    return task.result()


def _taken(task: asyncio.Future[Any]) -> None:
    """Take a dropped task's outcome, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
