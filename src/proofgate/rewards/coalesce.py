"""Coalescing: trainers that ask for one completion's reward at a time, concurrently (verl's async
`compute_score`, verifiers' per-trace rewards, OpenRLHF's per-sample HTTP posts), still get their
completions checked as groups, so identical ones are checked once and the group is spread over the
pool together.

A call waits in its statement's batch until the batch holds `group_size` completions (the trainer's
group, e.g. GRPO's n) or `linger` seconds passed since the batch opened; then the batch is scored
as one group and each call gets its own record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from proofgate.models.rewards import RewardRecord

__all__ = ["Coalescer"]

K = TypeVar("K", bound=Hashable)
#: Scores one batch: its key and completions in, one record per completion (in order) out.
Flush = Callable[[K, Sequence[str]], Awaitable[Sequence[RewardRecord]]]


@dataclass
class _Batch:
    limit: int
    completions: list[str] = field(default_factory=list)
    waiters: list[asyncio.Future[RewardRecord]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    closed: bool = False  # the timer may fire after the batch filled up and went


class Coalescer(Generic[K]):
    """Concurrent single-completion calls in, groups out (see the module). One per event loop's
    worth of callers: batches are kept per loop, so a coalescer made at import time serves
    whichever loop calls it."""

    def __init__(
        self, flush: Flush[K], *, group_size: int | None = None, linger: float = 0.05
    ) -> None:
        self._flush = flush
        self.group_size = group_size
        self.linger = linger
        self._open: dict[tuple[asyncio.AbstractEventLoop, K], _Batch] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        key: K,
        completion: str,
        *,
        group_size: int | None = None,
        linger: float | None = None,
    ) -> RewardRecord:
        """This completion's record, once its batch was scored (`index` is its place in the
        batch). `group_size`/`linger` override the coalescer's for a batch this call opens."""
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        batch = self._open.get(slot)
        if batch is None:
            size = group_size or self.group_size or 0
            batch = _Batch(limit=max(size, 0))
            self._open[slot] = batch
            wait = self.linger if linger is None else linger
            batch.timer = loop.call_later(max(wait, 0.0), self._close, slot, batch)
        waiter: asyncio.Future[RewardRecord] = loop.create_future()
        batch.completions.append(completion)
        batch.waiters.append(waiter)
        if batch.limit and len(batch.completions) >= batch.limit:
            self._close(slot, batch)
        return await waiter

    def _close(self, slot: tuple[asyncio.AbstractEventLoop, K], batch: _Batch) -> None:
        """Stop taking calls into `batch` and score it."""
        if self._open.get(slot) is batch:
            del self._open[slot]
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        if not batch.waiters or batch.closed:
            return
        batch.closed = True
        task = slot[0].create_task(self._score(slot[1], batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _score(self, key: K, batch: _Batch) -> None:
        try:
            records = list(await self._flush(key, list(batch.completions)))
            if len(records) != len(batch.waiters):
                raise RuntimeError(
                    f"a group of {len(batch.waiters)} completions got {len(records)} records"
                )
        except asyncio.CancelledError:
            for waiter in batch.waiters:
                waiter.cancel()
            raise
        except Exception as exc:  # every waiter hears it (a malformed statement, NotReady, ...)
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter, record in zip(batch.waiters, records, strict=True):
            if not waiter.done():
                waiter.set_result(record)
