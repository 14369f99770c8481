"""The bench's scenarios: overhead, throughput, recovery. Each returns a plain dict of figures.

- overhead: the same zero-latency checks, one at a time, through the REPL driver directly, through
  the pool (in this process), and through HTTP (the bench server); what the pool and HTTP add to
  the driver's p50 and p99.
- throughput: closed-loop clients on the header mix, on one side (audit model on, or off);
  achieved / ideal over a steady-state window. A check holds a worker for its check time r; the
  audit holds none, and takes the model's time a (0 with the audit off). So ideal =
  min(workers / mean r, concurrency / (mean r + a)). Achieved counts the requests answered
  `proved` inside the window (nothing is credited for work not yet answered).
- audit added: one client alternating audit-on and audit-off requests; the p50 of what each side
  takes beyond its REPL check time, and the difference.
- recovery: workers SIGKILLed at random while `concurrency = workers` clients run: lost requests,
  the extra latency of the requests that were on a killed worker (the pool logs each retry with
  the request's id), and whether any request waited for a worker that finished importing after
  the request arrived (a cold import; exact when nothing queues, as here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from proofgate.bench.audit_model import AuditModel
from proofgate.bench.load import (
    REQUEST_TIMEOUT,
    HealthProber,
    Sample,
    Send,
    WorkerKiller,
    closed_loop,
    send_job,
)
from proofgate.bench.server import BenchServer
from proofgate.bench.simulated_repl import SimulatedReplLauncher
from proofgate.bench.stats import latency_summary, percentile
from proofgate.bench.workload import BackendProfile, Job, JobFactory
from proofgate.config import Settings
from proofgate.environments.registry import discover_environments
from proofgate.lean.header import split_header
from proofgate.lean.pool import ReplPool
from proofgate.lean.repl import ReplProcess
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits

__all__ = [
    "expected_audit_seconds",
    "measure_audit_added",
    "measure_overhead",
    "measure_recovery",
    "measure_throughput",
]

#: Requests sent before timing starts on each overhead path (connections, caches, first imports).
OVERHEAD_WARMUP = 20
#: Declarations of each bench request (its one theorem), which the checker replays.
DECLARATIONS = 1
#: Requests a throughput window must see answered: a window a loaded machine answered none in
#: is extended (by at most MAX_WINDOW_EXTENSION seconds) until it has seen these many.
MIN_COMPLETED = 3
MAX_WINDOW_EXTENSION = 60.0


def _round(value: float, digits: int = 3) -> float:
    return round(value, digits)


# --- overhead --------------------------------------------------------------------------------


async def _driver_latencies(
    settings: Settings, launcher: SimulatedReplLauncher, jobs: Sequence[Job]
) -> list[float]:
    environment = discover_environments(settings)["default"]
    repl = await ReplProcess.start(
        Launch(ProcessGroupSpawner(), launcher.spawn_spec(environment), Limits())
    )
    try:
        header = split_header(jobs[0].code)
        env = (await repl.command(header.header, timeout=60)).env
        latencies = []
        for job in jobs:
            body = split_header(job.code).body
            began = time.perf_counter()
            await repl.command(body, env=env, timeout=60)
            latencies.append(time.perf_counter() - began)
        return latencies
    finally:
        await repl.close()


async def _pool_latencies(
    settings: Settings, launcher: SimulatedReplLauncher, jobs: Sequence[Job]
) -> list[float]:
    pool = ReplPool(settings, spawner=ProcessGroupSpawner(), launcher=launcher)
    await pool.start(wait=True)
    try:
        latencies = []
        for job in jobs:
            code = job.code
            began = time.perf_counter()
            await pool.run(code)
            latencies.append(time.perf_counter() - began)
        return latencies
    finally:
        await pool.close()


async def _http_latencies(
    server: BenchServer, jobs: Sequence[Job]
) -> tuple[list[float], list[Sample]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60.0) as client:
        samples = [await send_job(client, job) for job in jobs]
    return [s.latency for s in samples], samples


async def measure_overhead(
    server: BenchServer,
    local_settings: Settings,
    *,
    requests: int,
    run: str,
    seed: int,
    repl_extra_options: Sequence[str] = (),
) -> dict[str, Any]:
    """Driver vs pool vs HTTP on the same zero-latency checks, sequentially (one in flight)."""
    profile = BackendProfile(import_seconds=0.0)
    factory = JobFactory(profile, run=run, seed=seed, zero_latency=True, audit=False)
    header = factory.headers[0]
    jobs = [factory.next(header) for _ in range(requests + OVERHEAD_WARMUP)]
    launcher = SimulatedReplLauncher(
        local_settings, profile.repl_options() + list(repl_extra_options)
    )
    driver = (await _driver_latencies(local_settings, launcher, jobs))[OVERHEAD_WARMUP:]
    pool = (await _pool_latencies(local_settings, launcher, jobs))[OVERHEAD_WARMUP:]
    cpu_before = server.cpu_seconds()
    http_all, samples = await _http_latencies(server, jobs)
    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / len(jobs)
    http = http_all[OVERHEAD_WARMUP:]
    failed = sum(1 for s in samples if not s.ok)
    result: dict[str, Any] = {
        "requests": requests,
        "backend_seconds": 0.0,
        "driver": latency_summary(driver),
        "pool": latency_summary(pool),
        "http": latency_summary(http),
        "failed": failed,
        "server_cpu_ms_per_request": _round(cpu_ms),
    }
    for path, values in (("pool", pool), ("http", http)):
        for q in (50, 99):
            added = (percentile(values, q) - percentile(driver, q)) * 1000
            result[f"{path}_added_p{q}_ms"] = _round(added)
    if failed:
        result["first_failure"] = next(s.error for s in samples if not s.ok)
    result["_raw_ms"] = {
        path: [round(v * 1000, 3) for v in values]
        for path, values in (("driver", driver), ("pool", pool), ("http", http))
    }
    return result


# --- throughput ------------------------------------------------------------------------------


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after.get(key, 0) or 0) - int(before.get(key, 0) or 0)


async def _snapshot(server: BenchServer) -> tuple[dict[str, Any], float]:
    stats = await asyncio.to_thread(server.pool_stats)
    return stats, server.cpu_seconds()


def expected_audit_seconds(profile: BackendProfile, audit: AuditModel | None) -> float:
    """The modelled audit time of a mean request (0 s on the audit-off side, whose `ok` is
    `profile.audit_seconds` late)."""
    if audit is None:
        return profile.audit_seconds
    return audit.seconds(profile.mean_check_seconds, profile.import_seconds, DECLARATIONS)


async def measure_throughput(
    server: BenchServer,
    factory: JobFactory,
    *,
    workers: int,
    concurrency: int,
    warmup: float,
    window: float,
    audit: AuditModel | None = None,
    audit_seconds: float | None = None,
    send: Send = send_job,
) -> dict[str, Any]:
    """One (workers, concurrency) point on one side (`audit`: the model, None: audit off):
    closed-loop load, figures over the steady-state window. With the audit on, the warm-up lasts
    at least one request and the window at least three (an audit takes the model's time, or
    `audit_seconds` as measured when longer), so that the count means something; a window that
    saw fewer than MIN_COMPLETED answers (a loaded machine) ends at the answer that makes them,
    and `window_s` says how long it was. The ideal is
    the model's time alone: what the platform charges to start the audit's processes is the
    service's cost, and shows in the ratio. `send` posts each job (proofgate's `/v1/check`
    unless another service is measured on the same load)."""
    profile = factory.profile
    modelled = expected_audit_seconds(profile, audit)
    if audit is not None and audit_seconds is not None:
        modelled = max(modelled, audit_seconds)
    per_request = profile.mean_check_seconds + modelled
    if audit is not None:
        warmup = max(warmup, per_request * 1.2)
        window = max(window, per_request * 3)
    began = time.monotonic()
    before, cpu_before = await _snapshot(server)
    children_before = server.children_cpu_seconds()
    window_start = began + warmup
    window_end = window_start + window

    async def window_snapshot() -> tuple[dict[str, Any], float]:
        await asyncio.sleep(max(0.0, window_start - time.monotonic()))
        return await _snapshot(server)

    def counted(samples: list[Sample]) -> bool:
        """Enough requests answered in the window to count (a loaded machine answers later)."""
        return sum(1 for s in samples if s.ok and s.received >= window_start) >= MIN_COMPLETED

    at_start_task = asyncio.ensure_future(window_snapshot())
    samples = await closed_loop(
        server.url,
        factory,
        concurrency=concurrency,
        seconds=warmup + window,
        send=send,
        until=counted,
        most_seconds=warmup + window + MAX_WINDOW_EXTENSION,
    )
    # The window ends as planned, or at the answer that made it count, if that came later.
    answered = sorted(s.received for s in samples if s.ok and s.received >= window_start)
    if len(answered) >= MIN_COMPLETED and answered[MIN_COMPLETED - 1] >= window_end:
        window_end = answered[MIN_COMPLETED - 1] + 1e-9
        window = window_end - window_start
    at_end, _ = await _snapshot(server)
    cpu_after = server.cpu_seconds()
    children_after = server.children_cpu_seconds()
    at_start, _ = await at_start_task

    done_in_window = [s for s in samples if window_start <= s.received < window_end and s.ok]
    mean_backend = (
        sum(s.job.backend_seconds for s in done_in_window) / len(done_in_window)
        if done_in_window
        else float("nan")
    )
    if audit is None:
        mean_audit = profile.audit_seconds
    else:
        mean_audit = audit.seconds(mean_backend, profile.import_seconds, DECLARATIONS)
    achieved = len(done_in_window) / window
    ideal = min(workers / mean_backend, concurrency / (mean_backend + mean_audit))
    requests = _delta(at_end, at_start, "requests")
    imports = _delta(at_end, at_start, "imports")
    late = [s for s in samples if s.worker is not None and s.worker.ready_at > s.sent]
    # The server's reaped children are the audit's processes unless a REPL worker ended meanwhile.
    repl_ended = sum(
        int(count) - int((before.get("restarts") or {}).get(cause, 0))
        for cause, count in (at_end.get("restarts") or {}).items()
    )
    n = max(1, len(samples))
    server_ms = (cpu_after - cpu_before) * 1000 / n
    children_ms = (children_after - children_before) * 1000 / n
    audit_ms = [s.timings.get("audit_ms", 0.0) / 1000 for s in samples if s.ok]
    return {
        "audit": "on" if audit is not None else "off",
        "workers": workers,
        "concurrency": concurrency,
        "warmup_s": _round(warmup),
        "window_s": _round(window),
        "requests": len(samples),
        "completed_in_window": len(done_in_window),
        "failed": sum(1 for s in samples if not s.ok),
        "achieved_rps": _round(achieved),
        "ideal_rps": _round(ideal),
        "achieved_over_ideal": _round(achieved / ideal, 4) if done_in_window else None,
        "mean_backend_s": _round(mean_backend, 4),
        "mean_modelled_audit_s": _round(mean_audit, 4),
        "audit_latency": latency_summary(audit_ms),
        "header_hit_rate": _round(1 - imports / requests, 4) if requests > 0 else None,
        "imports_in_window": imports,
        # Only meaningful when nothing queues (concurrency <= workers): see measure_recovery.
        "waited_on_import": len(late) if concurrency <= workers else None,
        "latency": latency_summary([s.latency for s in samples if s.ok]),
        "server_cpu_ms_per_request": _round(server_ms),
        "children_cpu_ms_per_request": _round(children_ms) if repl_ended == 0 else None,
        "cpu_ms_per_request_with_children": _round(server_ms + children_ms)
        if repl_ended == 0
        else None,
        "repl_workers_ended": repl_ended,
        "busy_rejections": _delta(at_end, before, "busy_rejections"),
        "first_failure": next((s.error for s in samples if not s.ok), None),
        "_raw_ms": [round(s.latency * 1000, 3) for s in samples if s.ok],
    }


async def measure_audit_added(
    server: BenchServer, factory: JobFactory, *, pairs: int
) -> dict[str, Any]:
    """One client, requests alternating audit on and off: what the audit adds to a request, as
    the p50 of (latency - its REPL check time) on each side, and their difference."""
    header = factory.headers[0]
    on: list[Sample] = []
    off: list[Sample] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        for index in range(pairs + 1):  # the first pair warms the connection and the paths
            for audited, kept in ((False, off), (True, on)):
                sample = await send_job(client, factory.next(header, audit=audited))
                if index > 0:
                    kept.append(sample)
    failed = [s for s in on + off if not s.ok]
    result: dict[str, Any] = {"pairs": pairs, "failed": len(failed)}
    for name, side in (("on", on), ("off", off)):
        beyond = [s.latency - s.job.backend_seconds for s in side if s.ok]
        result[f"audit_{name}_beyond_check"] = latency_summary(beyond)
        result[f"audit_{name}_audit"] = latency_summary(
            [s.timings.get("audit_ms", 0.0) / 1000 for s in side if s.ok]
        )
    on_p50 = result["audit_on_beyond_check"].get("p50_ms")
    off_p50 = result["audit_off_beyond_check"].get("p50_ms")
    result["audit_added_p50_ms"] = (
        _round(on_p50 - off_p50) if on_p50 is not None and off_p50 is not None else None
    )
    if failed:
        result["first_failure"] = failed[0].error
    return result


# --- recovery --------------------------------------------------------------------------------


#: The pool's log event for a request whose worker died under it (`proofgate.lean.pool`).
RETRY_EVENT = "retrying on another worker"


def _retried_requests(server: BenchServer, since: int) -> set[str]:
    """Request ids the pool retried, from the server's own log lines written after `since`."""
    return {
        str(event.get("request_id"))
        for event in server.log_events(since)
        if event.get("event") == RETRY_EVENT and event.get("request_id")
    }


async def measure_recovery(
    server: BenchServer,
    factory: JobFactory,
    prober: HealthProber,
    *,
    workers: int,
    seconds: float,
    kill_every: float,
    seed: int,
) -> dict[str, Any]:
    """`workers` closed-loop clients (so nothing queues) while workers are SIGKILLed at random."""
    before, cpu_before = await _snapshot(server)
    log_from = server.log_size()
    probes_before = len(prober.latencies)
    killer = WorkerKiller(
        server, every=kill_every, import_seconds=factory.profile.import_seconds, seed=seed
    )
    kill_task = asyncio.ensure_future(killer.run(seconds))
    samples = await closed_loop(server.url, factory, concurrency=workers, seconds=seconds)
    await kill_task
    cpu_after = server.cpu_seconds()
    after, _ = await _snapshot(server)
    kills = killer.kills
    ok = [s for s in samples if s.ok]
    retried = _retried_requests(server, log_from)
    affected = [s for s in ok if s.job.request_id in retried]
    baseline = [s.latency - s.job.backend_seconds for s in ok if s.job.request_id not in retried]
    floor = percentile(baseline, 50) if baseline else 0.0
    extra = [s.latency - s.job.backend_seconds - floor for s in affected]
    cold = [s for s in ok if s.worker is not None and s.worker.ready_at > s.sent]
    probes = prober.latencies[probes_before:]
    return {
        "workers": workers,
        "concurrency": workers,
        "seconds": seconds,
        "kill_every_s": kill_every,
        "kills": len(kills),
        "kills_of_busy_workers": sum(1 for k in kills if k.busy),
        "requests": len(samples),
        "lost": len(samples) - len(ok),
        "pool_retries": _delta(after, before, "retries"),
        "affected": len(affected),  # answered after a retry (matched by X-Request-ID in the log)
        "affected_extra_latency": latency_summary(extra),
        "waited_on_import": len(cold),
        "restarts": {
            cause: int(count) - int((before.get("restarts") or {}).get(cause, 0))
            for cause, count in (after.get("restarts") or {}).items()
        },
        "health_p99_ms": _round(percentile(probes, 99) * 1000) if probes else None,
        "server_cpu_ms_per_request": _round((cpu_after - cpu_before) * 1000 / max(1, len(samples))),
        "first_failure": next((s.error for s in samples if not s.ok), None),
    }


def project_dir(workdir: Path) -> Path:
    """A minimal pinned environment for the simulated backend (no Lean inside)."""
    import json

    path = workdir / "project"
    path.mkdir(parents=True, exist_ok=True)
    (path / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n", "utf-8")
    packages = [{"name": name, "rev": "simulated"} for name in ("mathlib", "batteries", "aesop")]
    (path / "lake-manifest.json").write_text(
        json.dumps({"version": 7, "packages": packages}), "utf-8"
    )
    return path
