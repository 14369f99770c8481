"""`proofgate bench`: every scenario in one run, against the SIMULATED REPL, figures as one dict.

Order: for each worker count, one bench server (real app, real service, simulated REPL, the audit
model: the real `Auditor` in the real jail over a simulated Lean) is started and warmed; the first
one also serves the overhead scenario (audit off) and the audit-added pairs; each then serves the
throughput points for every concurrency, audit off then audit on, back to back; the server with
`recovery_workers` workers ends with the recovery scenario on each side. Every figure names its
side (`with_audit`, `audit_off`). A health prober runs through all load and kills and samples the server's RSS.
Everything lives in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from proofgate.__about__ import __version__
from proofgate.bench.audit_model import AuditModel, install_toolchain
from proofgate.bench.load import HealthProber
from proofgate.bench.report import RAW_KEY
from proofgate.bench.scenarios import (
    measure_audit_added,
    measure_overhead,
    measure_recovery,
    measure_throughput,
    project_dir,
)
from proofgate.bench.server import BenchServer, ServerConfig
from proofgate.bench.stats import percentile
from proofgate.bench.workload import DEFAULT_HEADER_MIX, BackendProfile, JobFactory
from proofgate.config import Settings

__all__ = [
    "TARGETS",
    "BenchConfig",
    "bench_directory",
    "install_bench_toolchain",
    "load_average",
    "machine_facts",
    "run_bench",
]

#: The issue's targets: (figure, comparison, bound). Reported, never relaxed by the bench.
#: Judged with the audit model on (as deployed) where the figure has that side; `pool_added` and
#: `http_added` are the zero-latency path comparisons, which run with the audit off.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("throughput_of_ideal_with_audit_c2", ">=", 0.97),
    ("throughput_of_ideal_with_audit_c16", ">=", 0.97),
    ("pool_added_p50_ms", "<", 1.0),
    ("http_added_p50_ms_audit_off", "<", 5.0),
    ("server_cpu_ms_per_request_with_audit", "<", 3.0),
    ("recovery_lost", "==", 0),
    ("recovery_waited_on_import", "==", 0),
    ("health_p99_ms_with_audit", "<", 50.0),
)

Progress = Callable[[str], None]
#: Seconds the server's CPU is read with every worker warm and nothing to do.
IDLE_SECONDS = 2.0
#: The toolchain the bench's project pins (`scenarios.project_dir`).
LEAN_VERSION = "v4.32.0"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and durations of one bench run; `quick()` and `full()` are the documented presets."""

    mode: str = "custom"
    profile: BackendProfile = field(default_factory=BackendProfile)
    header_mix: tuple[tuple[str, float], ...] = DEFAULT_HEADER_MIX
    worker_counts: tuple[int, ...] = (2,)
    concurrencies: tuple[int, ...] = (2, 16)
    spare_workers: int | None = None  # None: `workers + 1` warm processes per header of the mix
    warmup_seconds: float = 0.5
    window_seconds: float = 5.0
    overhead_requests: int = 300
    recovery_workers: int = 2
    recovery_seconds: float = 12.0
    kill_every_seconds: float = 3.0
    probe_interval: float = 0.1
    seed: int = 0
    #: Consecutive requests of a throughput run that share one statement (a reward group's
    #: completions do); 1: every statement new, so the audit's reference is never cached.
    statement_group: int = 1
    audit: AuditModel = field(default_factory=AuditModel)
    audit_pairs: int = 5  # audit-on/audit-off request pairs of the audit-added figure
    repl_extra_options: tuple[str, ...] = ()  # e.g. a tag tests use to find every process
    #: Another proofgate source tree (its `src/`) to run the bench server from, for before/after
    #: comparisons on one machine; the harness, its load and its clocks stay this installation's.
    server_source: Path | None = None

    @classmethod
    def quick(cls) -> BenchConfig:
        """Under a minute on 2 cores: workers 2 at concurrency 2 and 16, kills every ~3 s."""
        return cls(mode="quick")

    @classmethod
    def full(cls) -> BenchConfig:
        """Several worker counts, longer windows, a minute of kills every ~5 s."""
        return cls(
            mode="full",
            worker_counts=(1, 2, 4, 8),
            concurrencies=(2, 16),
            window_seconds=20.0,
            warmup_seconds=1.0,
            overhead_requests=1000,
            audit_pairs=20,
            recovery_seconds=60.0,
            kill_every_seconds=5.0,
        )

    def with_options(self, **changes: Any) -> BenchConfig:
        return replace(self, **changes)

    def spares_for(self, workers: int) -> int:
        """Warm spares of a `workers` server. By default each header of the mix gets
        `workers + 1` warm processes: a header's requests never wait for a worker another
        header holds, and a killed or recycled worker leaves `workers` warm ones behind."""
        if self.spare_workers is not None:
            return self.spare_workers
        return min(16, (workers + 1) * len(self.header_mix) - workers)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "worker_counts": list(self.worker_counts),
            "concurrencies": list(self.concurrencies),
            "spare_workers": {
                str(w): self.spares_for(w)
                for w in sorted(set(self.worker_counts) | {self.recovery_workers})
            },
            "header_mix": [{"header": h, "share": w} for h, w in self.header_mix],
            "statement_group": self.statement_group,
            "warmup_s": self.warmup_seconds,
            "window_s": self.window_seconds,
            "overhead_requests": self.overhead_requests,
            "audit_pairs": self.audit_pairs,
            "recovery": {
                "workers": self.recovery_workers,
                "seconds": self.recovery_seconds,
                "kill_every_s": self.kill_every_seconds,
            },
            "probe_interval_s": self.probe_interval,
            "server_source": str(self.server_source) if self.server_source else None,
            "seed": self.seed,
        }


def install_bench_toolchain(workdir: Path, audit: AuditModel, profile: BackendProfile) -> None:
    """The simulated Lean toolchain (`workdir/elan`) and checker of the bench's project
    (`project_dir(workdir)`), the audit model's times over the profile's REPL import."""
    install_toolchain(
        workdir / "elan",
        project_dir(workdir),
        audit,
        repl_import_seconds=profile.import_seconds,
        lean_version=LEAN_VERSION,
    )


def _server_settings(config: BenchConfig, workdir: Path, workers: int) -> dict[str, Any]:
    return {
        "data_dir": str(workdir / f"data-w{workers}"),
        "project_dir": str(project_dir(workdir)),
        "elan_home": str(workdir / "elan"),
        "workers": workers,
        "spare_workers": config.spares_for(workers),
        "prewarm_headers": [h for h, _ in config.header_mix],
        "request_timeout": 120.0,
        "import_timeout": 120.0,
        "queue_wait": 300.0,
        "max_queue": 4096,
        "sandbox": "none",
        "log_level": "info",
        "log_json": True,
        "cache_enabled": True,
        # a zygote for each header of the mix, as the pool keeps warm workers for each
        "zygotes": len(config.header_mix),
    }


def _targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    for name, comparison, bound in TARGETS:
        value = results["summary"].get(name)
        met: bool | None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            met = None
        elif comparison == ">=":
            met = value >= bound
        elif comparison == "<":
            met = value < bound
        else:
            met = value == bound
        checks[name] = {"value": value, "target": f"{comparison} {bound:g}", "met": met}
    return checks


#: How each side is named in figures and labels.
SIDES = {True: "with_audit", False: "audit_off"}


async def _run(config: BenchConfig, workdir: Path, progress: Progress) -> dict[str, Any]:
    results: dict[str, Any] = {"throughput": [], RAW_KEY: {}}
    raw: dict[str, list[float]] = results[RAW_KEY]
    sides = [False, True] if config.audit.enabled else [False]
    health: dict[str, list[float]] = {
        f"{k}_{SIDES[a]}": [] for k in ("load", "kills") for a in sides
    }
    rss_idle: list[int] = []
    rss_load: list[int] = []
    cpu_per_request: dict[bool, list[tuple[float, int]]] = {a: [] for a in sides}
    idle_cpu: list[float] = []  # ms of server CPU per second with every worker warm and no request
    probe_failures = 0
    counts = sorted(set(config.worker_counts) | {config.recovery_workers})
    measured_audit: float | None = None  # seconds of one audit, one client, once measured
    install_bench_toolchain(workdir, config.audit, config.profile)
    for index, workers in enumerate(counts):
        server_config = ServerConfig(
            _server_settings(config, workdir, workers),
            config.profile,
            list(config.repl_extra_options),
            config.audit,
        )
        server = BenchServer(
            server_config, workdir, f"server-w{workers}", source=config.server_source
        )
        progress(
            f"starting a bench server with {workers} worker(s) and {config.spares_for(workers)} spare(s)"
        )
        with server:
            rss_idle.append(server.rss_bytes())
            idle_began = server.cpu_seconds()
            await asyncio.sleep(IDLE_SECONDS)
            idle_cpu.append((server.cpu_seconds() - idle_began) * 1000 / IDLE_SECONDS)
            factories = {
                audited: JobFactory(
                    config.profile,
                    run=f"w{workers}_{SIDES[audited]}",
                    seed=config.seed,
                    header_mix=config.header_mix,
                    audit=audited,
                    statement_group=config.statement_group,
                )
                for audited in sides
            }
            if index == 0:
                progress(f"overhead: {config.overhead_requests} zero-latency checks on each path")
                local = Settings(
                    **{
                        **server_config.settings,
                        "data_dir": str(workdir / "data-local"),
                        "workers": 1,
                        "spare_workers": 0,
                        "prewarm_headers": [config.header_mix[0][0]],
                    }
                )
                results["overhead"] = await measure_overhead(
                    server,
                    local,
                    requests=config.overhead_requests,
                    run="overhead",
                    seed=config.seed,
                    repl_extra_options=config.repl_extra_options,
                )
                for path, values in results["overhead"].pop("_raw_ms").items():
                    raw[f"{path}, zero backend latency, audit off"] = values
                if config.audit.enabled and config.audit_pairs > 0:
                    progress(
                        f"audit added: {config.audit_pairs} pairs, audit on and off, one client"
                    )
                    results["audit_added"] = await measure_audit_added(
                        server,
                        JobFactory(config.profile, run="added", seed=config.seed),
                        pairs=config.audit_pairs,
                    )
                    p50 = results["audit_added"]["audit_on_audit"].get("p50_ms")
                    measured_audit = p50 / 1000 if p50 is not None else None
            if workers in config.worker_counts:
                for concurrency in config.concurrencies:
                    for audited in sides:
                        progress(
                            f"throughput: {workers} worker(s), concurrency {concurrency}, "
                            f"{SIDES[audited].replace('_', ' ')}"
                        )
                        with HealthProber(server, interval=config.probe_interval) as prober:
                            point = await measure_throughput(
                                server,
                                factories[audited],
                                workers=workers,
                                concurrency=concurrency,
                                warmup=config.warmup_seconds,
                                window=config.window_seconds,
                                audit=config.audit if audited else None,
                                audit_seconds=measured_audit,
                            )
                        label = f"w={workers} c={concurrency}, {SIDES[audited].replace('_', ' ')}"
                        raw[f"HTTP under load, {label}"] = point.pop("_raw_ms")
                        point["health_p99_ms"] = (
                            round(percentile(prober.latencies, 99) * 1000, 3)
                            if prober.latencies
                            else None
                        )
                        health[f"load_{SIDES[audited]}"] += prober.latencies
                        rss_load += prober.rss
                        probe_failures += prober.failures
                        cpu_per_request[audited].append(
                            (point["server_cpu_ms_per_request"], point["requests"])
                        )
                        results["throughput"].append(point)
            if workers == config.recovery_workers and config.recovery_seconds > 0:
                for audited in sides:
                    progress(
                        f"recovery: {workers} worker(s), SIGKILL every ~{config.kill_every_seconds:g} s, "
                        f"{SIDES[audited].replace('_', ' ')}"
                    )
                    server.wait_warm(time.monotonic() + config.profile.import_seconds + 30)
                    with HealthProber(server, interval=config.probe_interval) as prober:
                        recovery = await measure_recovery(
                            server,
                            factories[audited],
                            prober,
                            workers=workers,
                            seconds=config.recovery_seconds,
                            kill_every=config.kill_every_seconds,
                            seed=config.seed,
                        )
                    results[f"recovery_{SIDES[audited]}"] = recovery
                    health[f"kills_{SIDES[audited]}"] += prober.latencies
                    rss_load += prober.rss
                    probe_failures += prober.failures
    mib = 2**20
    results["memory"] = {
        "server_rss_idle_mib": round(max(rss_idle) / mib, 1) if rss_idle else None,
        "server_rss_load_max_mib": round(max(rss_load) / mib, 1) if rss_load else None,
        "note": "the server process alone; its REPL workers and audit processes are separate "
        "processes, not counted",
    }

    def p(values: list[float], q: float) -> float | None:
        return round(percentile(values, q) * 1000, 3) if values else None

    everything = [v for values in health.values() for v in values]
    results["health"] = {"probes": len(everything), "failures": probe_failures}
    results["health"]["p50_ms"] = p(everything, 50)
    for audited in sides:
        side = SIDES[audited]
        load, kills = health[f"load_{side}"], health[f"kills_{side}"]
        results["health"][f"p99_ms_load_{side}"] = p(load, 99)
        results["health"][f"p99_ms_kills_{side}"] = p(kills, 99)
        results["health"][f"p99_ms_{side}"] = p(load + kills, 99)
    results["server_cpu"] = {
        "idle_ms_per_second": round(max(idle_cpu), 3) if idle_cpu else None,
        "ms_per_request_sequential_audit_off": results.get("overhead", {}).get(
            "server_cpu_ms_per_request"
        ),
        "note": "CPU time of the server process (not its workers, not the audit's processes) "
        f"over each throughput run / its check requests, with health probes every "
        f"{config.probe_interval:g} s and supervision included; sequential: the overhead run "
        "(audit off); under kills: the recovery run (respawns included); idle: the server with "
        f"every worker warm and no request, over {IDLE_SECONDS:g} s (the most of any worker "
        "count). With children: the server plus its reaped children, which are the audit's "
        "processes only (a window in which a REPL worker ended is left out)",
    }
    for audited in sides:
        side = SIDES[audited]
        pairs = cpu_per_request[audited]
        total = sum(n for _, n in pairs)
        results["server_cpu"][f"ms_per_request_under_load_{side}"] = (
            round(sum(v * n for v, n in pairs) / total, 3) if total else None
        )
        clean = [
            (t["cpu_ms_per_request_with_children"], t["requests"])
            for t in results["throughput"]
            if t["audit"] == ("on" if audited else "off")
            and t["cpu_ms_per_request_with_children"] is not None
        ]
        clean_total = sum(n for _, n in clean)
        results["server_cpu"][f"ms_per_request_with_children_{side}"] = (
            round(sum(v * n for v, n in clean) / clean_total, 3) if clean_total else None
        )
        results["server_cpu"][f"ms_per_request_under_kills_{side}"] = results.get(
            f"recovery_{side}", {}
        ).get("server_cpu_ms_per_request")
    return results


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures (ratios first) that the targets are judged on; every figure says
    its side: `with_audit` (the audit model, as deployed) or `audit_off`."""
    points = results.get("throughput", [])
    overhead = results.get("overhead", {})
    cpu = results["server_cpu"]

    def worst(concurrency: int, audit: str) -> float | None:
        ratios = [
            p["achieved_over_ideal"]
            for p in points
            if p["concurrency"] == concurrency
            and p["audit"] == audit
            and p["achieved_over_ideal"] is not None
        ]
        return min(ratios) if ratios else None

    hit_rates = [p["header_hit_rate"] for p in points if p.get("header_hit_rate") is not None]
    recoveries = [results[k] for k in ("recovery_with_audit", "recovery_audit_off") if k in results]
    summary: dict[str, Any] = {
        "throughput_of_ideal_with_audit_c2": worst(2, "on"),
        "throughput_of_ideal_with_audit_c16": worst(16, "on"),
        "throughput_of_ideal_audit_off_c2": worst(2, "off"),
        "throughput_of_ideal_audit_off_c16": worst(16, "off"),
        "audit_added_p50_ms": results.get("audit_added", {}).get("audit_added_p50_ms"),
        "header_hit_rate_min": min(hit_rates) if hit_rates else None,
        "pool_added_p50_ms": overhead.get("pool_added_p50_ms"),
        "pool_added_p99_ms": overhead.get("pool_added_p99_ms"),
        "http_added_p50_ms_audit_off": overhead.get("http_added_p50_ms"),
        "http_added_p99_ms_audit_off": overhead.get("http_added_p99_ms"),
        "server_cpu_ms_per_request_with_audit": cpu.get("ms_per_request_under_load_with_audit"),
        "server_cpu_ms_per_request_audit_off": cpu.get("ms_per_request_under_load_audit_off"),
        "cpu_ms_per_request_with_children": cpu.get("ms_per_request_with_children_with_audit"),
        "cpu_ms_per_request_with_children_audit_off": cpu.get(
            "ms_per_request_with_children_audit_off"
        ),
        "health_p99_ms_with_audit": results["health"].get("p99_ms_with_audit"),
        "health_p99_ms_audit_off": results["health"].get("p99_ms_audit_off"),
        "recovery_lost": sum(r["lost"] for r in recoveries) if recoveries else None,
        "recovery_waited_on_import": sum(r["waited_on_import"] for r in recoveries)
        if recoveries
        else None,
    }
    for key in ("recovery_with_audit", "recovery_audit_off"):
        recovery = results.get(key, {})
        side = key.removeprefix("recovery_")
        summary[f"recovery_kills_{side}"] = recovery.get("kills")
        summary[f"recovery_affected_{side}"] = recovery.get("affected")
        summary[f"recovery_affected_extra_p50_ms_{side}"] = recovery.get(
            "affected_extra_latency", {}
        ).get("p50_ms")
    summary["server_rss_idle_mib"] = results["memory"]["server_rss_idle_mib"]
    summary["server_rss_load_max_mib"] = results["memory"]["server_rss_load_max_mib"]
    summary["failed_requests"] = (
        sum(p["failed"] for p in points)
        + sum(r["lost"] for r in recoveries)
        + results.get("audit_added", {}).get("failed", 0)
    )
    return summary


def load_average() -> float | None:
    """The machine's 1-minute load average, or None where the platform has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_facts(load_before: float | None) -> dict[str, Any]:
    """What a result says of the machine it ran on. Other work on the machine skews every
    latency: the 1-minute load, before (`load_before`) and after."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_1m": {"before": load_before, "after": load_average()},
    }


@contextmanager
def bench_directory(workdir: Path | None, *, prefix: str) -> Iterator[Path]:
    """Where a bench run works: `workdir` (made if missing, kept afterwards), or else a temporary
    directory named from `prefix`, removed when the run ends."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        yield Path(scratch)


def run_bench(
    config: BenchConfig, *, workdir: Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run every scenario and return the results (`summary` and `targets` included)."""
    say = progress or (lambda _message: None)
    started = time.monotonic()
    load_before = load_average()
    with bench_directory(workdir, prefix="proofgate-bench-") as directory:
        body = asyncio.run(_run(config, directory, say))
    results: dict[str, Any] = {
        "proofgate_bench": 1,
        "proofgate": __version__,
        "backend": {
            "repl": "simulated (proofgate.bench.simulated_repl)",
            **config.profile.describe(),
            "audit": config.audit.describe(
                config.profile.import_seconds, reference_share=1 / config.statement_group
            ),
        },
        "config": config.describe(),
        "machine": machine_facts(load_before),
        **body,
    }
    results["summary"] = _summary(results)
    results["targets"] = _targets(results)
    results["duration_s"] = round(time.monotonic() - started, 2)
    return results
