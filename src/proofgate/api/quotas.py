"""Per-key quotas: a token bucket for the rate, a counter for requests in flight.

In memory, per process: a restart refills every bucket. A request is admitted when the key has a
free concurrency slot and a whole token; it then costs one token, and a route that carries many
submissions (a batch, a Kimina request) charges the rest with `charge`, which may run the bucket
into debt: the key then waits until it is paid back, so the long-run rate holds in submissions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from proofgate.store.keys import ApiKey

__all__ = ["Admission", "Quotas", "Refusal", "TokenBucket"]

Clock = Callable[[], float]


class TokenBucket:
    """`rate_per_minute` tokens a minute, holding at most that many (at least one)."""

    def __init__(self, rate_per_minute: float, *, clock: Clock = time.monotonic) -> None:
        self.rate_per_minute = rate_per_minute
        self.capacity = max(1.0, rate_per_minute)
        self._per_second = rate_per_minute / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._per_second)
        self._updated = now

    def take(self) -> float | None:
        """Take one token: None if there was one, else the seconds until there will be."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._per_second

    def charge(self, cost: float) -> None:
        """Take `cost` more tokens, into debt if need be."""
        self._refill()
        self._tokens -= cost


@dataclass(frozen=True)
class Refusal:
    """Why a key was refused: `limit` is `rate` or `concurrency`; retry after `retry_after` s."""

    limit: str
    retry_after: float
    message: str


@dataclass
class Admission:
    """A request admitted under `key`: call `release` when it ends (its streamed body included)."""

    quotas: Quotas
    key: ApiKey
    released: bool = False

    def charge(self, submissions: int) -> None:
        """A route carrying `submissions` items charges all but the one admission paid for."""
        if submissions > 1:
            self.quotas.charge(self.key, submissions - 1)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.quotas.release(self.key)


class Quotas:
    """Every key's bucket and in-flight count (one event loop: no locks needed)."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._in_flight: dict[str, int] = {}

    def _bucket(self, key: ApiKey) -> TokenBucket | None:
        if key.rate_per_minute is None:
            self._buckets.pop(key.name, None)
            return None
        bucket = self._buckets.get(key.name)
        if bucket is None or bucket.rate_per_minute != key.rate_per_minute:
            bucket = self._buckets[key.name] = TokenBucket(key.rate_per_minute, clock=self._clock)
        return bucket

    def in_flight(self, name: str) -> int:
        return self._in_flight.get(name, 0)

    def admit(self, key: ApiKey) -> Admission | Refusal:
        running = self.in_flight(key.name)
        if key.concurrency is not None and running >= key.concurrency:
            return Refusal(
                "concurrency",
                1.0,
                f"key {key.name!r} already has {running} requests in flight (its limit is "
                f"{key.concurrency}): wait for one to finish",
            )
        bucket = self._bucket(key)
        if bucket is not None:
            wait = bucket.take()
            if wait is not None:
                return Refusal(
                    "rate",
                    wait,
                    f"key {key.name!r} is over its rate of {key.rate_per_minute:g} submissions a "
                    f"minute: retry after {wait:.1f}s",
                )
        self._in_flight[key.name] = running + 1
        return Admission(self, key)

    def charge(self, key: ApiKey, cost: float) -> None:
        bucket = self._bucket(key)
        if bucket is not None:
            bucket.charge(cost)

    def release(self, key: ApiKey) -> None:
        left = self.in_flight(key.name) - 1
        if left > 0:
            self._in_flight[key.name] = left
        else:
            self._in_flight.pop(key.name, None)
