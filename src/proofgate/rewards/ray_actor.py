"""`RewardActor`: one proofgate service on one node of a Ray cluster, scoring whole groups.

Its pool is sized to the node's CPUs and memory as Ray reports them (`node_workers`), and its data
directory is its own (the first free `DATA_DIR/reward-actors/<n>`, locked for the actor's life).
A group's records stream back one JSON line each as its checks finish, then one line of the
group's figures (`proofgate.rewards.stats.GroupStats`). `proofgate.rewards.ray.RewardRouter`
starts one per node and is the only caller.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from proofgate.batch.executors.ray_cluster import ServiceActor, import_ray
from proofgate.config import Settings
from proofgate.exceptions import NotReady, SubmissionError
from proofgate.models import Verdict
from proofgate.models.rewards import RewardRequest
from proofgate.rewards.group import Group
from proofgate.rewards.stats import GroupStats, busy_seconds
from proofgate.service import CheckerService
from proofgate.store.lock import claim_data_dir

__all__ = ["RewardActor", "ServiceFactory", "node_workers"]

#: Builds the service an actor holds; it runs inside the actor, so it must be importable there.
ServiceFactory = Callable[[], CheckerService]


def node_workers(cpus: float, memory_bytes: float, *, worker_memory_mb: int) -> int:
    """REPL workers for a node: a core left for the service, and no more workers than could
    each reach the worker memory cap (`PROOFGATE_MEMORY_LIMIT_MB`)."""
    by_cores = max(1, int(cpus) - 1)
    by_memory = max(1, int(memory_bytes // (worker_memory_mb * 2**20)))
    return min(by_cores, by_memory)


class RewardActor(ServiceActor):
    """Lives in a Ray worker: one `CheckerService` for the actor's life, scoring groups."""

    def __init__(self, factory: ServiceFactory | None = None, *, workers: int | None = None):
        super().__init__(factory)
        self._workers = workers

    async def start(self) -> dict[str, Any]:
        """Start the service; say where it runs, its pool size, and whether it can verify."""
        ray = import_ray()
        # in a Ray worker; in-process (the bench's one node) there is no node, and asking would
        # start a Ray
        in_ray = ray.is_initialized()
        node_id = ray.get_runtime_context().get_node_id() if in_ray else "local"
        if self._factory is not None:
            service = self._factory()
        else:
            base = Settings()
            self._data_lock = claim_data_dir(base.data_dir / "reward-actors")
            nodes = ray.nodes() if in_ray else []
            node: dict[str, Any] = next((n for n in nodes if n.get("NodeID") == node_id), {})
            resources = node.get("Resources", {})
            workers = self._workers or node_workers(
                resources.get("CPU", os.cpu_count() or 2),
                resources.get("memory", 8 * 2**30),
                worker_memory_mb=base.memory_limit_mb,
            )
            service = CheckerService(Settings(data_dir=self._data_lock.data_dir, workers=workers))
        await service.start()
        self._service = service
        readiness = service.readiness()
        return {
            "pid": os.getpid(),
            "node_id": node_id,
            "workers": service.settings.workers,
            "ready": readiness.ready,
            "reasons": readiness.reasons,
        }

    async def score(self, request_json: str, concurrency: int) -> AsyncIterator[str]:
        """Stream one JSON line per completion's record, as its check finishes, then one line of
        the group's figures (`{"stats": ...}`); a malformed statement or a service that cannot
        verify is one `{"error": ...}` line instead."""
        if self._service is None:
            yield json.dumps({"error": "not_ready", "message": "the actor is not started"})
            return
        request = RewardRequest.model_validate_json(request_json)
        began = time.monotonic()
        lean: list[tuple[float, float]] = []  # (start, end) of each check's REPL run and audit
        cached = 0

        def on_verdict(verdict: Verdict, seconds: float) -> None:
            nonlocal cached
            del seconds
            if verdict.cached:
                cached += 1
                return
            end = time.monotonic()
            spent = (verdict.timings.repl_ms + verdict.timings.audit_ms) / 1000
            lean.append((end - spent, end))

        try:
            group = await Group.prepare(request)
            checks = len({p.submission.content_hash() for p in group.planned if p.submission})
            async for record in group.records(
                self._service,
                raise_not_ready=True,
                concurrency=concurrency,
                on_verdict=on_verdict,
            ):
                yield record.model_dump_json()
        except SubmissionError as exc:
            yield json.dumps({"error": "submission", "message": str(exc), "field": exc.field})
            return
        except NotReady as exc:
            yield json.dumps({"error": "not_ready", "message": exc.reason})
            return
        stats = GroupStats(
            completions=len(request.completions),
            checks=checks,
            cached=cached,
            lean_seconds=busy_seconds(lean),
            actor_seconds=time.monotonic() - began,
        )
        yield json.dumps({"stats": stats.to_json()})

    async def idle_workers(self) -> int:
        """Workers warm and free now (0 before `start`)."""
        stats = self._service.pool_stats() if self._service is not None else None
        return stats.idle_workers if stats is not None else 0
