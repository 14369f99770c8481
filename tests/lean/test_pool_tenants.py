"""Tenants in the pool (issue 23, item 1): a worker serves one tenant for its whole life; a tenant
over its share yields freed slots to a tenant under it; its own full queue is 429-worthy.

On stand-in REPL processes, unjailed (the jailed attacks are in test_isolation.py). A request is
held inside its worker by a script that waits for a file, so every step waits on an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.exceptions import Busy, TenantBusy
from proofgate.lean import workers as workers_module
from proofgate.lean.pool import ReplPool, ReplRun
from proofgate.sandbox.group import ProcessGroupSpawner
from tests.standins.repl import standin_launcher
from tests.support.waiting import until_async

HEADER = "import Mathlib"


@asynccontextmanager
async def tenant_pool(tmp_path: Path, **overrides: Any) -> AsyncIterator[ReplPool]:
    values: dict[str, Any] = {
        "workers": 2,
        "spare_workers": 1,
        "prewarm_headers": [HEADER],
        "request_timeout": 60.0,
        "queue_wait": 60.0,
        "import_timeout": 30.0,
        "memory_limit_mb": 1024,
        "max_workers_per_tenant": 1,
    }
    values.update(overrides)
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **values)
    pool = ReplPool(settings, spawner=ProcessGroupSpawner(), launcher=standin_launcher(settings))
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close(drain_timeout=2.0)


def held(gate: Path, name: str) -> str:
    """A body that stays inside its worker until `gate` exists, then answers `name`."""
    script = f"while [ ! -e {gate} ]; do sleep 0.01; done; echo {name}"
    return f"{HEADER}\n-- standin: shell {script}\n"


def said(run: ReplRun) -> str:
    [text] = [m.data for m in run.reply.messages if m.data.startswith("shell exit ")]
    return text.removeprefix("shell exit 0: ").strip()


async def test_a_worker_serves_one_tenant_only(tmp_path: Path) -> None:
    code = f"{HEADER}\ntheorem t : True := trivial\n"
    async with tenant_pool(tmp_path, spare_workers=0, prewarm_headers=[]) as pool:
        first_a = await pool.run(code, tenant="tenant-a")
        first_b = await pool.run(code, tenant="tenant-b")
        again_a = await pool.run(code, tenant="tenant-a")
        again_b = await pool.run(code, tenant="tenant-b")
        assert first_a.worker_pid != first_b.worker_pid
        assert again_a.worker_pid == first_a.worker_pid
        assert again_b.worker_pid == first_b.worker_pid
        assert pool.stats().tenants == 2


async def test_the_first_tenant_takes_a_warm_spare_and_the_next_waits_for_an_import(
    tmp_path: Path,
) -> None:
    code = f"{HEADER}\ntheorem t : True := trivial\n"
    async with tenant_pool(tmp_path, workers=1, spare_workers=0) as pool:
        await pool.run(code, tenant="tenant-a")
        assert pool.stats().tenant_starts == 0  # the pre-warmed worker became tenant-a's
        await pool.run(code, tenant="tenant-b")
        assert pool.stats().tenant_starts == 1  # tenant-b's own worker had to import


async def test_a_lone_tenant_uses_the_whole_pool(tmp_path: Path) -> None:
    gate = tmp_path / "open"
    async with tenant_pool(tmp_path) as pool:
        runs = [
            asyncio.ensure_future(pool.run(held(gate, f"a{i}"), tenant="tenant-a"))
            for i in range(2)
        ]
        assert await until_async(lambda: pool.stats().busy_workers == 2), pool.stats()
        gate.touch()
        done = await asyncio.gather(*runs)
        assert sorted(said(run) for run in done) == ["a0", "a1"]


async def test_a_freed_slot_goes_to_the_tenant_under_its_share(tmp_path: Path) -> None:
    gates = {name: tmp_path / name for name in ("a0", "a1", "a2", "b0")}
    async with tenant_pool(tmp_path) as pool:
        a0, a1 = (
            asyncio.ensure_future(pool.run(held(gates[n], n), tenant="tenant-a"))
            for n in ("a0", "a1")
        )
        assert await until_async(lambda: pool.stats().busy_workers == 2), pool.stats()
        a2 = asyncio.ensure_future(pool.run(held(gates["a2"], "a2"), tenant="tenant-a"))
        assert await until_async(lambda: pool.stats().queue_depth == 1)
        b0 = asyncio.ensure_future(pool.run(held(gates["b0"], "b0"), tenant="tenant-b"))
        assert await until_async(lambda: pool.stats().queue_depth == 2)
        gates["a0"].touch()
        gates["b0"].touch()
        # tenant-a holds its share and more; tenant-b, queued after a2, gets the freed slot.
        assert said(await asyncio.wait_for(b0, 60)) == "b0"
        assert said(await a0) == "a0"
        assert not a2.done()
        for name in ("a1", "a2"):
            gates[name].touch()
        assert [said(await run) for run in (a1, a2)] == ["a1", "a2"]


async def test_a_full_tenant_queue_is_tenant_busy_only_while_others_are_served(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "open"
    async with tenant_pool(tmp_path, max_queue_per_tenant=1) as pool:
        busy = [
            asyncio.ensure_future(pool.run(held(gate, f"a{i}"), tenant="tenant-a"))
            for i in range(2)
        ]
        assert await until_async(lambda: pool.stats().busy_workers == 2)
        queued = asyncio.ensure_future(pool.run(held(gate, "a2"), tenant="tenant-a"))
        assert await until_async(lambda: pool.stats().queue_depth == 1)
        alone = asyncio.ensure_future(pool.run(held(gate, "a3"), tenant="tenant-a"))
        assert await until_async(lambda: pool.stats().queue_depth == 2)  # nobody else: queued
        other = asyncio.ensure_future(pool.run(held(gate, "b0"), tenant="tenant-b"))
        assert await until_async(lambda: pool.stats().queue_depth == 3)
        with pytest.raises(TenantBusy) as refused:
            await pool.run(held(gate, "a4"), tenant="tenant-a")
        assert isinstance(refused.value, Busy) and "this API key" in str(refused.value)
        gate.touch()
        results = await asyncio.gather(*busy, queued, alone, other)
        assert sorted(said(run) for run in results) == ["a0", "a1", "a2", "a3", "b0"]


async def test_a_tenants_worker_of_a_prewarmed_header_is_never_retired_as_cold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_module, "COLD_IDLE_SECONDS", 0.0)
    monkeypatch.setattr(workers_module, "SUPERVISE_SECONDS", 0.05)
    warm = f"{HEADER}\ntheorem t : True := trivial\n"
    cold = "import Mathlib.Tactic\ntheorem t : True := trivial\n"
    async with tenant_pool(tmp_path, spare_workers=0) as pool:
        first = await pool.run(warm, tenant="tenant-a")
        assert await until_async(lambda: pool.stats().idle_workers == 2)  # and a spare
        await pool.run(cold, tenant="tenant-a")  # evicts the spare: tenant-a is active
        assert await until_async(lambda: pool.stats().restarts.get("idle", 0) >= 1)
        again = await pool.run(warm, tenant="tenant-a")
        assert again.worker_pid == first.worker_pid, (
            pool.stats().restarts
        )  # kept, as a pre-warmed header's worker is
