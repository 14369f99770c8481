"""The bench's closed loop: clients go on past their time while the caller's condition wants more
answers (a loaded machine answers later), never past the cap."""

from __future__ import annotations

import asyncio
import time

import httpx

from proofgate.bench.load import Sample, closed_loop
from proofgate.bench.workload import BackendProfile, Job, JobFactory

PROFILE = BackendProfile(import_seconds=0.0, check_mu=-3.0, check_sigma=0.0)


def _factory() -> JobFactory:
    return JobFactory(PROFILE, run="load-test")


async def _answered_later(_: httpx.AsyncClient, job: Job) -> Sample:
    """A server that answers a request only after 0.3 s: a loop of 0.1 s gets no answer in time."""
    sent = time.monotonic()
    await asyncio.sleep(0.3)
    return Sample(job, sent, time.monotonic(), 200, "proved")


async def test_the_loop_goes_on_until_the_condition_holds() -> None:
    began = time.monotonic()
    samples = await closed_loop(
        "http://127.0.0.1:9",  # never contacted: the sender is the test's
        _factory(),
        concurrency=1,
        seconds=0.1,
        send=_answered_later,
        until=lambda done: len(done) >= 3,
        most_seconds=30.0,
    )
    assert len(samples) >= 3
    assert all(s.received >= began for s in samples)


async def test_without_a_condition_the_loop_stops_at_its_time() -> None:
    samples = await closed_loop(
        "http://127.0.0.1:9", _factory(), concurrency=1, seconds=0.1, send=_answered_later
    )
    assert len(samples) <= 1  # no second request; the one in flight at the end is kept


async def test_the_condition_never_holding_ends_at_the_cap() -> None:
    looping = closed_loop(
        "http://127.0.0.1:9",
        _factory(),
        concurrency=1,
        seconds=0.1,
        send=_answered_later,
        until=lambda _: False,
        most_seconds=0.7,
    )
    samples = await asyncio.wait_for(looping, 30.0)  # without the cap it would never end
    assert samples
