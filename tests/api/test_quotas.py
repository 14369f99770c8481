"""Per-key quotas (proofgate.api.quotas) on a fake clock."""

from __future__ import annotations

import time

import pytest

from proofgate.api.quotas import Admission, Quotas, Refusal, TokenBucket
from proofgate.store.keys import ApiKey


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def key(name: str = "k", *, rate: float | None = None, concurrency: int | None = None) -> ApiKey:
    return ApiKey(
        name, "0" * 64, "pg_abc", time.time(), rate_per_minute=rate, concurrency=concurrency
    )


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(6, clock=clock)  # one every 10 s, 6 at once
    assert all(bucket.take() is None for _ in range(6))
    wait = bucket.take()
    assert wait == pytest.approx(10.0)
    clock.now = 9.0
    assert bucket.take() == pytest.approx(1.0)
    clock.now = 10.0
    assert bucket.take() is None


def test_debt_from_a_large_batch_must_be_paid_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)  # one a second
    assert bucket.take() is None
    bucket.charge(100)  # a batch of 101 submissions
    assert bucket.take() == pytest.approx(42.0)  # from -41 back to 1
    clock.now = 42.0
    assert bucket.take() is None


def test_concurrency_slots_are_held_until_released() -> None:
    quotas = Quotas(clock=FakeClock())
    limited = key(concurrency=2)
    first, second = quotas.admit(limited), quotas.admit(limited)
    assert isinstance(first, Admission) and isinstance(second, Admission)
    refused = quotas.admit(limited)
    assert isinstance(refused, Refusal) and refused.limit == "concurrency"
    assert "2 requests in flight" in refused.message
    first.release()
    first.release()  # twice is harmless
    assert quotas.in_flight("k") == 1
    assert isinstance(quotas.admit(limited), Admission)


def test_a_rate_refusal_takes_no_slot_and_names_the_wait() -> None:
    clock = FakeClock()
    quotas = Quotas(clock=clock)
    limited = key(rate=1)
    admitted = quotas.admit(limited)
    assert isinstance(admitted, Admission)
    admitted.release()
    refused = quotas.admit(limited)
    assert isinstance(refused, Refusal) and refused.limit == "rate"
    assert refused.retry_after == pytest.approx(60.0)
    assert quotas.in_flight("k") == 0


def test_a_changed_rate_takes_effect() -> None:
    quotas = Quotas(clock=FakeClock())
    assert isinstance(quotas.admit(key(rate=1)), Admission)
    assert isinstance(quotas.admit(key(rate=1)), Refusal)
    assert isinstance(quotas.admit(key(rate=100)), Admission)  # a fresh bucket at the new rate
    assert isinstance(quotas.admit(key()), Admission)  # no rate: never refused for it
