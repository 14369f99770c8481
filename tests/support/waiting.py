"""Waiting in tests for a condition, never for a fixed time.

The condition is looked at until it holds, within a deadline far longer than it takes even on a
busy machine (pytest-timeout still bounds the test as a whole); on a quiet one the wait ends at
the first look that finds it true.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["DEADLINE_SECONDS", "until", "until_async"]

#: How long a condition may take to come true before the wait gives up.
DEADLINE_SECONDS = 60.0


def until(
    condition: Callable[[], object], seconds: float = DEADLINE_SECONDS, interval: float = 0.01
) -> bool:
    """Block until `condition()` is true (True) or `seconds` passed (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


async def until_async(
    condition: Callable[[], object], seconds: float = DEADLINE_SECONDS, interval: float = 0.02
) -> bool:
    """`until` for a coroutine: the event loop keeps running between looks."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True
