"""Rewards on a Ray cluster: one proofgate service per node, and a router with statement affinity.

- `RewardActor` lives in a Ray worker on one node: one `CheckerService` (its own REPL pool, sized
  to the node's CPUs and memory as Ray reports them, and its own data directory), scoring whole
  groups through `proofgate.rewards.group` and streaming each completion's record as it finishes.
- `RewardRouter` lives with the trainer. It starts one actor per node, sends each group to one
  actor by a stable hash of its environment and statement (rendezvous hashing: a statement's
  reference, its header's warm workers and its cached results stay on one node, and a lost actor
  moves only its own statements), spills a group to the least-loaded actor when the preferred one
  already has `max_groups` in flight, and, when an actor dies, reruns on another actor the
  completions of its in-flight groups that have no record yet (and starts a replacement).
  Every (group id, completion index) is rewarded once: the router keeps what it delivered, drops
  any second record, and answers a group id it already finished from what it kept.
- `Scorer(router=...)` puts the router behind the trainer adapters (`trl_reward`,
  `verl_compute_score`, ...), in place of a server URL.

Ray is the optional `ray` extra; RAY_USAGE_STATS_ENABLED=0 is set before Ray is imported.
Tested on a local two-node `ray.cluster_utils.Cluster` on 127.0.0.1 with the stand-in stack;
untested on a multi-machine cluster and against real Lean.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from proofgate.batch.executors.ray_cluster import import_ray, lost_actor_errors
from proofgate.exceptions import NotReady, SubmissionError
from proofgate.logs import get_logger
from proofgate.models.rewards import RewardRecord, RewardRequest
from proofgate.rewards.ray_actor import RewardActor, ServiceFactory, node_workers
from proofgate.rewards.reward import unfinished_record
from proofgate.rewards.stats import GroupStats, RouterStats

__all__ = [
    "RewardActor",
    "RewardRouter",
    "affinity_order",
    "node_workers",
    "statement_key",
]

_log = get_logger("proofgate.rewards.ray")

#: Called with each record the router delivers, once per (group id, completion index).
OnRecord = Callable[[str, RewardRecord], None]
#: Finished groups whose records the router keeps, to answer a group id sent again.
FINISHED_KEPT = 4096


def statement_key(request: RewardRequest) -> str:
    """What a group's affinity follows: its environment and locked statement, hashed."""
    text = f"{request.environment}\0{request.statement}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def affinity_order(key: str, actor_ids: Iterable[str]) -> list[str]:
    """Actors by preference for `key`, best first (rendezvous hashing: each actor's weight for the
    key is a hash of both, so removing an actor moves only the keys it was first for)."""

    def weight(actor_id: str) -> bytes:
        return hashlib.sha256(f"{key}\0{actor_id}".encode()).digest()

    return sorted(actor_ids, key=weight, reverse=True)


@dataclass(eq=False)
class _Member:
    """The router's view of one actor: its handle, node, and groups in flight."""

    handle: Any
    node_id: str
    number: int
    workers: int
    in_flight: int = 0
    groups: int = 0
    alive: bool = True


@dataclass
class _Run:
    """One group as the router sees it: the records delivered so far, by completion index."""

    group_id: str
    request: RewardRequest
    delivered: dict[int, RewardRecord] = field(default_factory=dict)
    member: _Member | None = None  # the actor scoring it now
    done: asyncio.Future[list[RewardRecord]] | None = None


class RewardRouter:
    """Scores groups on one `RewardActor` per node of the Ray cluster this process is connected
    to (or starts a local one). `max_groups` bounds the groups in flight on one actor (its pool
    stays busy between groups; beyond it a group spills to the least-loaded actor, or waits);
    `concurrency` is the checks at once inside one group (default: twice the actor's workers);
    with `warm_timeout`, `start` waits that long for each actor's pool to be warm."""

    def __init__(
        self,
        *,
        service_factory: ServiceFactory | None = None,
        workers: int | None = None,
        nodes: int | None = None,
        max_groups: int = 2,
        concurrency: int | None = None,
        actor_cpus: float = 1.0,
        max_attempts: int = 3,
        on_record: OnRecord | None = None,
        replace_lost: bool = True,
        warm_timeout: float = 0.0,
    ) -> None:
        if max_groups < 1 or max_attempts < 1:
            raise ValueError("max_groups and max_attempts must be at least 1")
        self.max_groups = max_groups
        self.max_attempts = max_attempts
        self.on_record = on_record
        self.stats = RouterStats()
        self._factory = service_factory
        self._workers = workers
        self._nodes = nodes
        self._concurrency = concurrency
        self._actor_cpus = actor_cpus
        self._replace_lost = replace_lost
        self._warm_timeout = warm_timeout
        self._ray: Any = None
        self._remote: Any = None
        self._members: list[_Member] = []
        self._started = 0
        self._spawning: set[asyncio.Task[None]] = set()
        self._changed: asyncio.Condition | None = None
        self._running: dict[str, _Run] = {}
        self._finished: OrderedDict[str, list[RewardRecord]] = OrderedDict()
        self._lost_errors: tuple[type[BaseException], ...] = ()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one actor on each live node (the first `nodes` of them) and wait until each
        can verify. Ray must be initialised (`ray.init(...)`): the trainer's own cluster."""
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            raise NotReady(
                "Ray is not initialised: call ray.init(address=...) for the trainer's cluster "
                "before starting the reward router"
            )
        self._lost_errors = lost_actor_errors(ray)
        self._changed = asyncio.Condition()
        self._remote = ray.remote(RewardActor)
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        if self._nodes is not None:
            nodes = nodes[: self._nodes]
        await asyncio.gather(*(self._spawn(node, soft=False) for node in nodes))
        _log.info("reward_actors_ready", actors=len(self._members))

    async def _spawn(self, node_id: str, *, soft: bool) -> None:
        """Start an actor on `node_id` (elsewhere too when `soft`) and wait until it can verify."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._started += 1
        number = self._started
        handle = self._remote.options(
            num_cpus=self._actor_cpus,
            max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=soft),
        ).remote(self._factory, workers=self._workers)
        try:
            info = await _wait(handle.start.remote())
        except self._lost_errors as exc:
            raise NotReady(f"a reward actor died while starting on node {node_id}: {exc}") from exc
        if not info.get("ready"):
            self._ray.kill(handle)
            reasons = "; ".join(info.get("reasons") or ["unknown"])
            raise NotReady(f"a reward actor on node {node_id} cannot verify: {reasons}")
        member = _Member(handle, str(info["node_id"]), number, int(info["workers"]))
        await self._wait_warm(member)
        self._members.append(member)
        await self._notify()

    async def _wait_warm(self, member: _Member) -> None:
        """Wait up to `warm_timeout` seconds for every worker of `member` to be warm and idle, so
        the first groups do not pay the header's import."""
        deadline = time.monotonic() + self._warm_timeout
        while time.monotonic() < deadline:
            if await _wait(member.handle.idle_workers.remote()) >= member.workers:
                return
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        """Stop every actor (their pools first); the Ray cluster stays the trainer's."""
        for task in list(self._spawning):
            task.cancel()
        members, self._members = self._members, []
        closing = [_wait(m.handle.close.remote()) for m in members if m.alive]
        if closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 30)
        for member in members:
            with contextlib.suppress(Exception):  # a dead actor needs no killing
                self._ray.kill(member.handle)

    async def __aenter__(self) -> RewardRouter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def actor_handles(self) -> list[Any]:
        """The live actors' handles (tests kill one mid-run)."""
        return [m.handle for m in self._members if m.alive]

    def actor_of(self, group_id: str) -> Any:
        """The handle of the actor scoring group `group_id` now, or None."""
        run = self._running.get(group_id)
        member = run.member if run is not None else None
        return member.handle if member is not None else None

    def actors(self) -> list[dict[str, Any]]:
        """Each actor: its node, pool size, groups served and in flight, alive or not."""
        return [
            {
                "number": m.number,
                "node_id": m.node_id,
                "workers": m.workers,
                "groups": m.groups,
                "in_flight": m.in_flight,
                "alive": m.alive,
            }
            for m in self._members
        ]

    # --- scoring -----------------------------------------------------------------------------

    async def score(
        self, request: RewardRequest, *, group_id: str | None = None
    ) -> list[RewardRecord]:
        """Every completion's record, in order: `Scorer`'s call shape. A `group_id` sent again
        gets the records it got the first time (while running: the same run's), never new ones."""
        gid = group_id or uuid.uuid4().hex
        if gid in self._finished:
            self.stats.resent_groups += 1
            return list(self._finished[gid])
        running = self._running.get(gid)
        if running is not None and running.done is not None:
            self.stats.resent_groups += 1
            return await asyncio.shield(running.done)
        run = _Run(gid, request, done=asyncio.get_running_loop().create_future())
        self._running[gid] = run
        try:
            records = await self._run(run)
        except BaseException as exc:
            assert run.done is not None
            if not run.done.done():
                run.done.set_exception(exc)
                run.done.exception()  # a joiner may never come: mark it retrieved
            raise
        finally:
            del self._running[gid]
        self._finished[gid] = records
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)
        assert run.done is not None
        run.done.set_result(records)
        return records

    async def _run(self, run: _Run) -> list[RewardRecord]:
        total = len(run.request.completions)
        key = statement_key(run.request)
        began = time.monotonic()
        attempts = 0
        lean = 0.0
        while len(run.delivered) < total:
            missing = [i for i in range(total) if i not in run.delivered]
            if attempts >= self.max_attempts:
                reason = (
                    f"lost with its Ray actor {attempts} times; proofgate's fault, not the "
                    "completion's: send it again"
                )
                for index in missing:
                    self._deliver(run, index, unfinished_record(index, reason, read_as=None))
                break
            attempts += 1
            if attempts > 1:
                self.stats.reruns += 1
                self.stats.rerun_completions += len(missing)
            member = run.member = await self._acquire(key)
            try:
                lean += await self._stream(member, run, missing)
            except self._lost_errors as exc:
                self._lost(member, exc)
            finally:
                run.member = None
                member.in_flight -= 1
                await self._notify()
        self.stats.groups += 1
        self.stats.group_seconds += time.monotonic() - began
        self.stats.lean_seconds += lean
        return [run.delivered[i] for i in range(total)]

    async def _stream(self, member: _Member, run: _Run, missing: list[int]) -> float:
        """Send the `missing` completions of `run` to `member`; deliver each record as it comes.
        Returns the seconds the group's checks were in Lean there."""
        request = run.request
        if len(missing) < len(request.completions):
            completions = [request.completions[i] for i in missing]
            request = request.model_copy(update={"completions": completions})
        concurrency = self._concurrency or 2 * member.workers
        stream = member.handle.score.remote(request.model_dump_json(), concurrency)
        lean = 0.0
        try:
            async for ref in stream:
                line = json.loads(await ref)
                if "error" in line:
                    if line["error"] == "submission":
                        raise SubmissionError(line["message"], field=line.get("field"))
                    raise NotReady(f"a reward actor cannot verify: {line['message']}")
                if "stats" in line:
                    figures = GroupStats.from_json(line["stats"])
                    self.stats.add(figures)
                    lean = figures.lean_seconds
                    continue
                record = RewardRecord.model_validate(line)
                self._deliver(run, missing[record.index], record)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self._ray.cancel(stream)
            raise
        return lean

    def _deliver(self, run: _Run, index: int, record: RewardRecord) -> None:
        """Keep `record` as completion `index`'s, unless it already has one."""
        if index in run.delivered:
            self.stats.duplicates_dropped += 1
            return
        record = record.model_copy(update={"index": index})
        run.delivered[index] = record
        self.stats.completions += 1
        if self.on_record is not None:
            self.on_record(run.group_id, record)

    async def _acquire(self, key: str) -> _Member:
        """The actor for a group of `key`: its preferred live actor while that one has room,
        else the least-loaded one with room, else wait for room (or a replacement)."""
        assert self._changed is not None, "start() first"
        async with self._changed:
            while True:
                live = _by_affinity_id([m for m in self._members if m.alive])
                if not live and not self._spawning:
                    raise NotReady(
                        "every reward actor was lost: check the Ray cluster (`ray status`), "
                        "then start the router again"
                    )
                order = [live[name] for name in affinity_order(key, live)]
                if order and order[0].in_flight < self.max_groups:
                    chosen = order[0]
                else:
                    free = [m for m in order if m.in_flight < self.max_groups]
                    if not free:
                        await self._changed.wait()
                        continue
                    chosen = min(free, key=lambda m: m.in_flight)  # stable: affinity breaks ties
                    self.stats.spills += 1
                chosen.in_flight += 1
                chosen.groups += 1
                return chosen

    def _lost(self, member: _Member, error: BaseException) -> None:
        if not member.alive:
            return
        member.alive = False
        self.stats.actors_lost += 1
        _log.warning(
            "reward_actor_lost",
            actor=member.number,
            node=member.node_id,
            error=type(error).__name__,
        )
        if self._replace_lost:
            task = asyncio.create_task(self._replace(member.node_id))
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)

    async def _replace(self, node_id: str) -> None:
        try:
            await self._spawn(node_id, soft=True)
        except Exception as exc:  # the other actors go on; the next loss may try again
            _log.warning("reward_actor_replacement_failed", node=node_id, error=str(exc))
        finally:
            # out of the set before waking the waiters: with no actor left they must see no hope
            current = asyncio.current_task()
            if current is not None:
                self._spawning.discard(current)
            await self._notify()

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()


def _by_affinity_id(members: list[_Member]) -> dict[str, _Member]:
    """Live actors by the id affinity hashes: the node's (a replacement on the same node takes
    back its statements), with the actor's number when a node has two."""
    nodes = [m.node_id for m in members]
    return {
        m.node_id if nodes.count(m.node_id) == 1 else f"{m.node_id}#{m.number}": m for m in members
    }


def _wait(ref: Any) -> asyncio.Future[Any]:
    return asyncio.wrap_future(ref.future())
