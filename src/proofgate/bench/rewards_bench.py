"""`proofgate bench --rewards`: reward serving on the SIMULATED REPL with the audit model on.

Every figure is SIMULATED: the REPL is `proofgate.bench.simulated_repl`, the audit the real
`Auditor` in the jail the service selects over a simulated Lean (`proofgate.bench.audit_model`).

- Group sizes (one node, in this process): a `RewardActor` (the code a Ray node runs) with a pool
  of `workers`, fed `groups_in_flight` groups at a time, closed loop. Completions per second per
  worker over a steady window, against the ideal: each check that needs Lean holds a worker for
  its REPL time r (the audit holds none), and a completion identical to one in its group, or
  answered by the result cache, needs none: of ideal = the r of the completions answered in the
  window / (workers x window), and ideal completions/s = achieved / that. Before
  it, groups one at a time on the idle pool give the share of a group's time outside Lean (1 -
  the union of its checks' REPL runs and audits / its wall time). Dedupe rate (completions not
  checked: an identical one in the group was) and cache hit rate (checks the result cache
  answered: a completion seen in an earlier group of its statement).
- Ray (a private cluster of two nodes on 127.0.0.1): the same closed loop through `RewardRouter`
  with one node's actor, then with both nodes' (statement affinity, spill when full).

Each node is a process group of this machine: its cores are the machine's, shared.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from proofgate.__about__ import __version__
from proofgate.bench.audit_model import AuditModel
from proofgate.bench.runner import (
    bench_directory,
    install_bench_toolchain,
    load_average,
    machine_facts,
)
from proofgate.bench.scenarios import project_dir
from proofgate.bench.workload import BackendProfile
from proofgate.models.rewards import RewardRecord, RewardRequest
from proofgate.reports.markup import table_lines
from proofgate.rewards.ray_actor import RewardActor
from proofgate.rewards.stats import GroupStats, RouterStats
from proofgate.service import CheckerService

__all__ = ["RewardsBenchConfig", "bench_actor_service", "run_rewards_bench"]

HEADER = "import Mathlib"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RewardsBenchConfig:
    """Sizes of one `proofgate bench --rewards` run (the defaults are small: 2 shared cores)."""

    group_sizes: tuple[int, ...] = (8, 16, 64)
    workers: int = 4  # REPL workers of one node
    ray_nodes: int = 2  # the Ray part scales from one node to this many
    ray_group_size: int = 16
    groups_in_flight: int = 4  # per node (a trainer's batch holds many more): the pool stays busy
    statements: int = 6
    duplicate_share: float = 0.25  # a completion identical to another in its group
    repeat_share: float = 0.25  # a completion identical to one of an earlier group
    sequential_completions: int = 32  # per size, groups one at a time (the outside-Lean share)
    warmup_seconds: float = 2.0
    window_seconds: float = 12.0
    profile: BackendProfile = field(
        default_factory=lambda: BackendProfile(import_seconds=0.2, check_mu=-0.4, check_sigma=0.4)
    )
    audit: AuditModel = field(default_factory=AuditModel)
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        described = asdict(self)
        described["profile"] = self.profile.describe()
        described["audit"] = self.audit.describe(self.profile.import_seconds)
        return described


# --- the workload ----------------------------------------------------------------------------


class GroupStream:
    """Groups of sampled completions, seeded: honest proofs that take a drawn REPL time, some
    sent twice in a group, some repeating an earlier group's answer to the same statement."""

    def __init__(self, config: RewardsBenchConfig, run: str) -> None:
        self.config = config
        self.run = run
        self._rng = random.Random(f"{config.seed}:{run}")
        self._groups = 0
        self._fresh = 0
        self._seen: dict[int, list[str]] = {}  # a statement's earlier completions
        self.completions = 0
        self.lean_seconds = 0.0  # REPL seconds of the distinct completions drawn
        self.seconds_of: dict[str, float] = {}  # each drawn completion's REPL seconds

    def statement(self, number: int) -> str:
        k = number % 97 + 2
        return (
            f"{HEADER}\n\ntheorem rb_{self.run}_{number} (n : ℕ) (h₀ : n % 5 = 3) : "
            f"(2 * n + {k}) % 5 = (1 + {k}) % 5 := by sorry\n"
        )

    def next(self, size: int) -> RewardRequest:
        rng, config = self._rng, self.config
        number = self._groups % config.statements
        self._groups += 1
        seen = self._seen.setdefault(number, [])
        completions: list[str] = []
        for _ in range(size):
            draw = rng.random()
            if completions and draw < config.duplicate_share:
                completions.append(rng.choice(completions))
            elif seen and draw < config.duplicate_share + config.repeat_share:
                completions.append(rng.choice(seen))
            else:
                drawn = rng.lognormvariate(config.profile.check_mu, config.profile.check_sigma)
                seconds = round(min(config.profile.check_cap_seconds, drawn), 4)
                self._fresh += 1
                self.lean_seconds += seconds
                completion = (
                    "<think>maybe omega</think>\n```lean4\nby\n"
                    f"  -- standin: sleep {seconds:.4f}\n  omega -- sample {self._fresh}\n```\n"
                )
                self.seconds_of[completion] = seconds
                completions.append(completion)
        seen.extend(completions)
        self.completions += size
        return RewardRequest(statement=self.statement(number), completions=completions)

    def worker_seconds(self, request: RewardRequest, record: RewardRecord) -> float:
        """The REPL seconds `record`'s completion held a worker: its drawn time if it was checked
        (the first of its text in the group, not answered from the cache), else none."""
        text = request.completions[record.index]
        if record.cached or request.completions.index(text) != record.index:
            return 0.0
        return self.seconds_of.get(text, 0.0)


# --- the service an actor (or this process) runs ----------------------------------------------


def service_config(config: RewardsBenchConfig, workdir: Path) -> str:
    """What `bench_actor_service` builds, as JSON (it may run in a Ray worker)."""
    settings = {
        "project_dir": str(project_dir(workdir)),
        "elan_home": str(workdir / "elan"),
        "workers": config.workers,
        "spare_workers": 1,
        "prewarm_headers": [HEADER],
        "request_timeout": 120.0,
        "import_timeout": 120.0,
        "queue_wait": 300.0,
        "max_queue": 4096,
        "sandbox": "none",
        "log_level": "warning",
        "cache_enabled": True,
    }
    return json.dumps(
        {
            "settings": settings,
            "profile": config.profile.__dict__,
            "audit": config.audit.to_json(),
            "root": str(workdir / "actors"),
        }
    )


def bench_actor_service(config_json: str) -> CheckerService:
    """A service over the simulated REPL and the audit model, in a data directory of its own
    (the bench server's stack: `proofgate.bench.server`)."""
    from proofgate.bench.auditor import SimulatedAuditor
    from proofgate.bench.simulated_repl import SimulatedReplLauncher
    from proofgate.config import Settings
    from proofgate.sandbox import select_spawner
    from proofgate.sandbox.group import ProcessGroupSpawner
    from proofgate.verify.audit import Auditor, Audits

    config = json.loads(config_json)
    data_dir = Path(config["root"]) / f"actor-{os.getpid()}-{time.monotonic_ns()}"
    settings = Settings(**config["settings"], data_dir=data_dir)
    profile = BackendProfile(**config["profile"])
    audit = AuditModel.from_json(config["audit"])
    auditor: Audits = SimulatedAuditor()
    if audit.enabled:
        jailed = Settings(
            **{**config["settings"], "sandbox": audit.jail, **audit.service_settings()},
            data_dir=data_dir,
        )
        auditor = Auditor(jailed, spawner=select_spawner(jailed))
    return CheckerService(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=SimulatedReplLauncher(settings, profile.repl_options()),
        auditor=auditor,
    )


class InProcessNode:
    """One node without Ray: a `RewardActor` in this process, scored as the router would."""

    def __init__(self, config_json: str) -> None:
        self.actor = RewardActor(functools.partial(bench_actor_service, config_json))
        self.stats = RouterStats()
        self.workers = 0
        self.on_record: Callable[[str, RewardRecord], None] | None = None

    async def start(self) -> None:
        info = await self.actor.start()
        if not info["ready"]:
            raise RuntimeError(f"the bench service cannot verify: {info['reasons']}")
        self.workers = int(info["workers"])
        while await self.actor.idle_workers() < self.workers:  # warm, as a node's router waits
            await asyncio.sleep(0.05)

    async def score(
        self, request: RewardRequest, *, group_id: str | None = None
    ) -> list[RewardRecord]:
        began = time.monotonic()
        records: list[RewardRecord] = []
        async for line in self.actor.score(request.model_dump_json(), 2 * self.workers):
            data = json.loads(line)
            if "stats" in data:
                figures = GroupStats.from_json(data["stats"])
                self.stats.add(figures)
                self.stats.lean_seconds += figures.lean_seconds
                continue
            record = RewardRecord.model_validate(data)
            records.append(record)
            self.stats.completions += 1
            if self.on_record is not None:
                self.on_record(group_id or "", record)
        self.stats.groups += 1
        self.stats.group_seconds += time.monotonic() - began
        return records


# --- measuring -------------------------------------------------------------------------------


class Scores(Protocol):
    """What the closed loop drives: `InProcessNode` or `RewardRouter`."""

    on_record: Callable[[str, RewardRecord], None] | None

    async def score(
        self, request: RewardRequest, *, group_id: str | None = None
    ) -> list[RewardRecord]: ...


async def measure(
    target: Scores,
    stream: GroupStream,
    config: RewardsBenchConfig,
    *,
    size: int,
    workers: int,
    in_flight: int,
) -> dict[str, Any]:
    """`in_flight` groups at a time, closed loop, until the window ends: completions per second
    (and per worker) whose record arrived inside the window; against the ideal: the worker
    seconds those completions needed (`GroupStream.worker_seconds`) over the workers' seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time() + config.warmup_seconds
    end = start + config.window_seconds
    counted = 0
    needed = 0.0
    not_proved = 0
    sent: dict[str, RewardRequest] = {}

    def arrived(group_id: str, record: RewardRecord) -> None:
        nonlocal counted, needed
        if start <= loop.time() < end:
            counted += 1
            needed += stream.worker_seconds(sent[group_id], record)

    async def client(number: int) -> None:
        nonlocal not_proved
        groups = 0
        while loop.time() < end:
            group_id = f"{number}.{groups}"
            groups += 1
            sent[group_id] = request = stream.next(size)
            records = await target.score(request, group_id=group_id)
            not_proved += sum(not r.proved for r in records)

    target.on_record = arrived
    try:
        await asyncio.gather(*(client(n) for n in range(in_flight)))
    finally:
        target.on_record = None
    window = config.window_seconds
    achieved = counted / window
    of_ideal = needed / (workers * window)  # the share of worker time spent on needed checks
    return {
        "group_size": size,
        "workers": workers,
        "groups_in_flight": in_flight,
        "completions_in_window": counted,
        "completions_per_second": round(achieved, 3),
        "completions_per_second_per_worker": round(achieved / workers, 3),
        "ideal_per_second": round(achieved / of_ideal, 3) if of_ideal else None,
        "of_ideal": round(of_ideal, 3),
        "not_proved": not_proved,
    }


def _rates(stats: RouterStats) -> dict[str, Any]:
    rates = {k: (round(v, 4) if v is not None else None) for k, v in stats.rates().items()}
    return {**rates, "groups": stats.groups, "completions": stats.completions}


async def _group_sizes(
    config: RewardsBenchConfig, workdir: Path, say: Progress
) -> list[dict[str, Any]]:
    points = []
    for size in config.group_sizes:
        say(f"group size {size}: one node, {config.workers} workers, in this process")
        node = InProcessNode(service_config(config, workdir))
        await node.start()
        try:
            sequential = GroupStream(config, f"seq{size}")
            for _ in range(max(1, config.sequential_completions // size)):
                await node.score(sequential.next(size))
            alone = _rates(node.stats)
            node.stats = RouterStats()
            stream = GroupStream(config, f"g{size}")
            point = await measure(
                node,
                stream,
                config,
                size=size,
                workers=node.workers,
                in_flight=config.groups_in_flight,
            )
            point["outside_lean_share_alone"] = alone["outside_lean_share"]
            point["under_load"] = _rates(node.stats)
            points.append(point)
        finally:
            await node.actor.close()
    return points


async def _ray_scaling(
    config: RewardsBenchConfig, workdir: Path, say: Progress
) -> list[dict[str, Any]]:
    from proofgate.rewards.ray import RewardRouter
    from proofgate.rewards.ray_local import local_cluster

    points = []
    size = config.ray_group_size
    say(f"Ray: a private cluster of {config.ray_nodes} nodes on 127.0.0.1")
    with local_cluster(config.ray_nodes, cpus_per_node=1):
        for nodes in sorted({1, config.ray_nodes}):
            say(f"Ray: group size {size} on {nodes} node(s) of {config.workers} workers")
            router = RewardRouter(
                service_factory=functools.partial(
                    bench_actor_service, service_config(config, workdir)
                ),
                nodes=nodes,
                max_groups=config.groups_in_flight,
                warm_timeout=60.0,
            )
            await router.start()
            try:
                workers = sum(actor["workers"] for actor in router.actors())
                point = await measure(
                    router,
                    GroupStream(config, f"ray{nodes}"),
                    config,
                    size=size,
                    workers=workers,
                    in_flight=config.groups_in_flight * nodes,
                )
                point["nodes"] = nodes
                point["router"] = {
                    **_rates(router.stats),
                    "spills": router.stats.spills,
                    "groups_by_actor": [actor["groups"] for actor in router.actors()],
                }
                points.append(point)
            finally:
                await router.close()
    if len(points) == 2 and points[0]["completions_per_second"]:
        points[1]["speedup_over_one_node"] = round(
            points[1]["completions_per_second"] / points[0]["completions_per_second"], 3
        )
    return points


def run_rewards_bench(
    config: RewardsBenchConfig,
    *,
    ray: bool = True,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the group sizes (and the Ray scaling unless `ray` is False); the figures as one dict."""
    say = progress or (lambda _message: None)
    started = time.monotonic()
    load_before = load_average()
    with bench_directory(workdir, prefix="proofgate-rewards-bench-") as directory:
        install_bench_toolchain(directory, config.audit, config.profile)
        sizes = asyncio.run(_group_sizes(config, directory, say))
        scaling = asyncio.run(_ray_scaling(config, directory, say)) if ray else []
    return {
        "proofgate_bench_rewards": 1,
        "proofgate": __version__,
        "label": "SIMULATED: simulated REPL, audit model over a simulated Lean; no Lean was run",
        "config": config.describe(),
        "machine": machine_facts(load_before),
        "group_sizes": sizes,
        "ray": scaling,
        "duration_s": round(time.monotonic() - started, 2),
    }


#: The issue's target: (group size, workers of one node, least share of the ideal).
TARGET = (16, 4, 0.95)


def target_met(results: dict[str, Any]) -> bool | None:
    """Whether group size 16 on one node of 4 workers reached 0.95 of the ideal (None: not run)."""
    size, workers, bound = TARGET
    for point in results["group_sizes"]:
        if point["group_size"] == size and point["workers"] == workers:
            return point["of_ideal"] is not None and point["of_ideal"] >= bound
    return None


def markdown_table(results: dict[str, Any]) -> str:
    """The figures as markdown tables, labelled SIMULATED."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    sizes = [
        [
            p["group_size"],
            p["workers"],
            p["completions_per_second"],
            p["completions_per_second_per_worker"],
            p["ideal_per_second"],
            p["of_ideal"],
            f"{pct(p['outside_lean_share_alone'])} / {pct(p['under_load']['outside_lean_share'])}",
            pct(p["under_load"]["dedupe_rate"]),
            pct(p["under_load"]["cache_hit_rate"]),
        ]
        for p in results["group_sizes"]
    ]
    lines = [
        "SIMULATED (simulated REPL, audit model over a simulated Lean; no Lean was run)",
        "",
        *table_lines(
            [
                "group size",
                "workers",
                "completions/s",
                "per worker",
                "ideal/s",
                "of ideal",
                "outside Lean (alone / loaded)",
                "dedupe",
                "cache hits",
            ],
            sizes,
        ),
    ]
    if results["ray"]:
        nodes = [
            [
                p["nodes"],
                p["workers"],
                p["completions_per_second"],
                p["completions_per_second_per_worker"],
                p["ideal_per_second"],
                p["of_ideal"],
                p.get("speedup_over_one_node", "-"),
                p["router"]["groups_by_actor"],
                p["router"]["spills"],
                pct(p["router"]["outside_lean_share"]),
                pct(p["router"]["cache_hit_rate"]),
            ]
            for p in results["ray"]
        ]
        lines += [
            "",
            *table_lines(
                [
                    "Ray nodes",
                    "workers",
                    "completions/s",
                    "per worker",
                    "ideal/s",
                    "of ideal",
                    "speedup",
                    "groups by actor",
                    "spills",
                    "outside Lean",
                    "cache hits",
                ],
                nodes,
            ),
        ]
    load = results["machine"]["load_average_1m"]
    lines += [
        "",
        f"Machine: {results['machine']['cpus']} cores, 1-minute load {load['before']} before and "
        f"{load['after']} after; {results['duration_s']} s.",
    ]
    return "\n".join(lines)
