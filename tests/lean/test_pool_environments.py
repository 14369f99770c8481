"""Environments in the pool (issue 26, item 5): one environment's flood never starves another of
its minimum of workers (`min_workers_per_environment`). A slot freed by the loaded environment goes
to the other's waiting request, whose worker starts on the room the freed worker leaves, ahead of
the loaded environment's own queue.

On stand-in REPL processes, unjailed; a request is held inside its worker until a file exists, so
every step waits on an event (the helpers are test_pool_tenants.py's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment, discover_environments
from proofgate.lean.pool import ReplPool
from proofgate.sandbox.group import ProcessGroupSpawner
from tests.lean.test_pool_tenants import held, said
from tests.standins.repl import standin_launcher
from tests.support.waiting import until_async


@asynccontextmanager
async def two_environment_pool(tmp_path: Path, **overrides: Any) -> AsyncIterator[ReplPool]:
    """`default` pre-warmed, and `other` (another Lake project, the same stand-in REPL)."""
    values: dict[str, Any] = {
        "workers": 2,
        "spare_workers": 0,
        "prewarm_headers": ["import Mathlib"],
        "request_timeout": 60.0,
        "queue_wait": 60.0,
        "import_timeout": 30.0,
        "memory_limit_mb": 1024,
        "max_workers_per_tenant": 2,  # one tenant: only the environments' claims are at play
    }
    values.update(overrides)
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **values)
    environments = discover_environments(settings)
    default = environments["default"]
    (tmp_path / "other").mkdir()
    other = Environment("other", tmp_path / "other", default.toolchain, dict(default.packages))
    pool = ReplPool(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=standin_launcher(settings),
        environments={"default": default, "other": other},
    )
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close(drain_timeout=2.0)


def _workers_of(pool: ReplPool, environment: str) -> int:
    return sum(
        n
        for label, n in pool.stats().workers_by_header.items()
        if label.startswith(environment + ":")
    )


@pytest.mark.timeout(120)
async def test_a_flood_in_one_environment_leaves_another_its_minimum(tmp_path: Path) -> None:
    gates = {name: tmp_path / name for name in ("a0", "a1", "a2", "a3", "b0")}
    async with two_environment_pool(tmp_path) as pool:
        other = pool._environments["other"]  # noqa: SLF001 - the pool's own value, as the service passes it

        def run_in_default(name: str) -> asyncio.Future[Any]:
            return asyncio.ensure_future(pool.run(held(gates[name], name)))

        a0, a1 = run_in_default("a0"), run_in_default("a1")
        assert await until_async(lambda: pool.stats().busy_workers == 2), pool.stats()
        a2, a3 = run_in_default("a2"), run_in_default("a3")  # default's flood, queued
        assert await until_async(lambda: pool.stats().queue_depth == 2)
        b0 = asyncio.ensure_future(pool.run(held(gates["b0"], "b0"), environment=other))
        assert await until_async(lambda: pool.stats().queue_depth == 3)

        gates["a0"].touch()  # a slot frees: it is other's, though default queued first
        assert said(await a0) == "a0"
        assert await until_async(lambda: _workers_of(pool, "other") == 1), pool.stats()
        gates["b0"].touch()
        assert said(await asyncio.wait_for(b0, 60)) == "b0"
        assert not a2.done() and not a3.done()  # default's flood waited behind it

        for name in ("a1", "a2", "a3"):
            gates[name].touch()
        assert sorted(said(run) for run in await asyncio.gather(a1, a2, a3)) == ["a1", "a2", "a3"]


@pytest.mark.timeout(120)
async def test_without_a_minimum_the_flood_is_served_first(tmp_path: Path) -> None:
    """`min_workers_per_environment=0`: the freed slot serves default's queue, in order; other's
    request waits for a slot nothing warm can fill (what the minimum is there to prevent)."""
    gates = {name: tmp_path / name for name in ("a0", "a1", "a2", "b0")}
    async with two_environment_pool(tmp_path, min_workers_per_environment=0) as pool:
        other = pool._environments["other"]  # noqa: SLF001 - as above
        a0, a1 = (asyncio.ensure_future(pool.run(held(gates[n], n))) for n in ("a0", "a1"))
        assert await until_async(lambda: pool.stats().busy_workers == 2), pool.stats()
        a2 = asyncio.ensure_future(pool.run(held(gates["a2"], "a2")))
        assert await until_async(lambda: pool.stats().queue_depth == 1)
        b0 = asyncio.ensure_future(pool.run(held(gates["b0"], "b0"), environment=other))
        assert await until_async(lambda: pool.stats().queue_depth == 2)
        gates["a0"].touch()
        assert said(await a0) == "a0"
        assert await until_async(
            lambda: pool.stats().busy_workers == 2 and pool.stats().queue_depth == 1
        )
        assert _workers_of(pool, "other") == 0 and not b0.done()
        for name in ("a1", "a2", "b0"):
            gates[name].touch()
        assert [said(await run) for run in (a1, a2, b0)] == ["a1", "a2", "b0"]
