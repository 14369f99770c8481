"""What every batch backend offers: checks of many items, at most `concurrency` at a time.

A backend turns `BatchItem`s into `BatchRecord`s, in any order. An outcome of the item (a verdict,
a malformed submission) is a record; a failure of the backend itself (not ready, unreachable,
busy beyond its retries) raises, which stops the run with nothing written for the items in flight,
so a resumed run checks them again.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Iterable

from proofgate.batch.input import BatchItem, BatchRecord
from proofgate.exceptions import Busy
from proofgate.models.http import EnvironmentInfo

__all__ = ["BatchExecutor", "PerItemExecutor"]

#: Tries of one item while the backend answers `Busy` (each waits as Retry-After asks).
BUSY_ATTEMPTS = 6
#: Longest wait between two tries of a busy backend, in seconds.
MAX_BUSY_WAIT = 30.0


class BatchExecutor(ABC):
    """A place where submissions are checked: started once, then fed items, then closed."""

    name: str = "backend"

    def __init__(self, *, concurrency: int = 8) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency

    async def start(self) -> None:  # noqa: B027 - an optional hook
        """Get ready to check (start a pool, connect to a server or cluster)."""

    async def close(self) -> None:  # noqa: B027 - an optional hook
        """Release what `start` took; safe to call after a failed or cancelled run."""

    async def environments(self) -> list[EnvironmentInfo] | None:
        """The environments items may name, with their readiness where known; None when the
        backend cannot tell (yet: the runner asks before `start` and, on None, again after)."""
        return None

    @abstractmethod
    def check_many(self, items: Iterable[BatchItem]) -> AsyncGenerator[BatchRecord, None]:
        """Every item's record, in the order they finish."""


class PerItemExecutor(BatchExecutor):
    """A backend that checks one item per call; this class bounds how many run at once."""

    @abstractmethod
    async def check_item(self, item: BatchItem) -> BatchRecord:
        """The item's record; raises when the backend, not the item, failed."""

    async def check_many(self, items: Iterable[BatchItem]) -> AsyncGenerator[BatchRecord, None]:
        source = iter(items)
        exhausted = False
        pending: set[asyncio.Task[BatchRecord]] = set()
        try:
            while True:
                while not exhausted and len(pending) < self.concurrency:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                    else:
                        pending.add(asyncio.create_task(self.check_item(item)))
                if not pending:
                    return
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def wait_while_busy(error: Busy, attempts: int) -> None:
    """Sleep as a `Busy` answer asks before the next try, or re-raise it once tries are spent."""
    if attempts >= BUSY_ATTEMPTS:
        raise error
    await error.wait(cap=MAX_BUSY_WAIT)
