"""The same batch on a local Ray cluster (2 CPUs, started here, usage stats off) gives the local
pool's results, and the items of an actor killed midway are retried on another."""

from __future__ import annotations

import asyncio
import functools
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from proofgate.batch.executors.checker import CheckerExecutor
from proofgate.batch.executors.ray_cluster import RayExecutor
from proofgate.batch.input import BatchRecord
from proofgate.batch.output import read_records
from proofgate.batch.runner import run_batch
from tests.batch.executors.ray_stack import actor_service
from tests.batch.items import write_batch
from tests.batch.test_runner import outcomes, stack_in

ROOT = Path(__file__).resolve().parents[3]
ITEMS = 300


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray = pytest.importorskip("ray", reason="Ray is not installed here (the `ray` extra)")
    # A cluster that cannot start is an error, not a skip: only a missing Ray skips.
    ray.init(
        address="local",  # a new cluster of our own, never one found on the machine
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _tagged_processes(tag: str) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if tag in cmdline and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process.pid)
    return found


@pytest.mark.timeout(150)
async def test_ray_gives_the_local_pools_results_and_retries_a_lost_actor(
    ray_cluster: Any, tmp_path: Path
) -> None:
    write_batch(tmp_path / "in.jsonl", ITEMS)
    reference = tmp_path / "local.jsonl"
    await run_batch(
        tmp_path / "in.jsonl",
        reference,
        CheckerExecutor(service=stack_in(tmp_path / "l").service()),
    )

    tag = f"raybatch-{uuid.uuid4().hex[:8]}"
    backend = RayExecutor(
        None,  # the cluster this test started
        actors=2,
        concurrency=4,
        service_factory=functools.partial(actor_service, str(tmp_path / "ray"), tag),
    )
    killed: list[Any] = []

    def kill_one_midway(record: BatchRecord) -> None:
        del record
        if not killed and len(read_records(tmp_path / "ray.jsonl")) >= ITEMS // 5:
            handle = backend.actor_handles()[0]
            ray_cluster.kill(handle)
            killed.append(handle)

    summary = await run_batch(
        tmp_path / "in.jsonl", tmp_path / "ray.jsonl", backend, on_record=kill_one_midway
    )
    assert killed, "the batch finished before an actor could be killed"
    assert summary.complete and summary.written == ITEMS
    assert outcomes(tmp_path / "ray.jsonl") == outcomes(reference)
    retried = [r for r in read_records(tmp_path / "ray.jsonl") if r.attempts > 1]
    assert retried, "no item was in flight on the killed actor"
    assert all(r.verdict is not None or r.error is not None for r in retried)

    deadline = time.monotonic() + 10
    while (left := _tagged_processes(tag)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not left, f"stand-in REPLs of the Ray actors outlived the batch: {left}"
