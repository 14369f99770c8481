"""The set of live REPL workers and the one loop that owns them (supervision as uvicorn does it).

`WorkerSet` hands idle workers to queued requests in order (a retry goes first), starts workers for
unmet demand (evicting the least recently used idle worker of another header when full), keeps the
pool filled with warm workers for the pre-warmed headers, and retires workers that died, kept a
process a request started (`ReplProcess.tainted`), served `recycle_after` requests, grew past
`RECYCLE_MEMORY_FRACTION` of the memory cap (`proofgate.lean.header_workers`: what a header worker
is, for the pool and the sessions alike), or idled too long on a cold header. All of it runs on the
event loop, synchronously between awaits, so no lock is needed; a worker's failure is counted and
logged, never raised into the loop.

Capacity: at most `settings.workers` workers are busy; `settings.spare_workers` more warm processes
stand by, so a retry or the next request never waits behind a cold import.

Tenants (`proofgate.models.tenant`): a worker serves one tenant for its whole life. A spare worker
(pre-warmed, never handed out: `HeaderKey.tenant` None) is clean, so the first tenant that takes it
makes it its own; a tenant with no worker of its header left waits for an import. A tenant holding
`settings.tenant_worker_cap` busy workers is served further only from slots that no tenant under its
cap is waiting for (work-conserving: a single tenant may use the whole pool). When room is needed,
the workers of tenants with nothing busy or queued are reclaimed first.

Environments: every environment with waiting requests may claim up to
`settings.min_workers_per_environment` busy workers however loaded the others are. A slot freed by
an environment over its minimum goes to one under it, and that one's worker may start on the room
an idle worker of the loaded environment leaves: a flood in one never starves another.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import (
    Busy,
    ProofgateError,
    ReplCrashed,
    ReplError,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
    SpawnFailed,
)
from proofgate.lean.claims import SlotClaims
from proofgate.lean.header import split_header
from proofgate.lean.header_workers import HeaderKey, StartFailed, WorkerStarter, eviction_victim
from proofgate.lean.launch import ReplLauncher
from proofgate.lean.repl import ReplProcess
from proofgate.lean.reply import ReplReply
from proofgate.logs import get_logger
from proofgate.sandbox.process import Spawner
from proofgate.ticks import sleep_on_grid

__all__ = ["HeaderFailure", "Worker", "WorkerSet", "death_cause", "note"]

#: An idle worker of a header that is not pre-warmed is retired after this many idle seconds.
COLD_IDLE_SECONDS = 600.0
#: Seconds between two passes of the supervisor (cold-idle retirement, refills after a back-off).
#: A worker's death needs no pass: it retires the worker and refills at once (`_worker_exited`).
SUPERVISE_SECONDS = 1.0
#: How many recent import durations are kept for metrics.
RECENT_SAMPLES = 512


def note(level: str, event: str, **fields: object) -> None:
    """Log through the logging setup current now (no logger cached at import); a broken log sink
    (a closed stderr) never breaks the pool."""
    with contextlib.suppress(ValueError, OSError):
        getattr(get_logger("proofgate.pool"), level)(event, **fields)


@dataclass(eq=False)
class Worker:
    """One live REPL with its header elaborated; `header_env` is the env every body runs on."""

    key: HeaderKey
    repl: ReplProcess
    header_env: int
    served: int = 0
    busy: bool = False
    last_used: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class HeaderFailure:
    """The header's own reply had errors: every request with this header gets that reply."""

    reply: ReplReply


@dataclass(eq=False)
class _Waiter:
    key: HeaderKey
    future: asyncio.Future[Worker | HeaderFailure]


def death_cause(failure: ReplError | None) -> str:
    """The `restarts` counter a dead worker goes under."""
    causes = (
        (ReplTimeout, "timeout"),
        (ReplOutOfMemory, "out_of_memory"),
        (ReplProtocolError, "protocol"),
    )
    return next((cause for kind, cause in causes if isinstance(failure, kind)), "crashed")


class WorkerSet:
    """Owns every worker process of one pool; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        spawner: Spawner,
        launcher: ReplLauncher,
        environment: Callable[[str], Environment],
    ) -> None:
        self._settings = settings
        self.starter = WorkerStarter.from_settings(settings, spawner=spawner, launcher=launcher)
        self._environment = environment
        self.max_busy = settings.workers
        self.max_processes = settings.workers + settings.spare_workers
        self.prewarm = [
            HeaderKey(None, "default", split_header(h).header) for h in settings.prewarm_headers
        ]
        self.tenant_cap = settings.tenant_worker_cap
        self.environment_min = settings.min_workers_per_environment
        self.tenant_starts = 0  # workers started for a tenant's request: it waited for an import
        self.workers: list[Worker] = []
        self.starting: Counter[HeaderKey] = Counter()
        self.restarts: Counter[str] = Counter()
        self.imports = 0
        self.import_seconds_total = 0.0
        self.recent_import_seconds: deque[float] = deque(maxlen=RECENT_SAMPLES)
        self._queue: deque[_Waiter] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()  # worker starts and closes
        self._starts: set[asyncio.Task[Any]] = set()
        self._backoff: dict[HeaderKey, tuple[int, float]] = {}  # key -> (failures in a row, until)
        self._supervisor: asyncio.Task[None] | None = None
        self.closing = False  # draining: no more pre-warming
        self.closed = False  # nothing is handed out or started any more

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._supervisor is not None

    async def start(self, *, wait: bool) -> None:
        """Start supervising and pre-warming; with `wait`, until each pre-warmed header is ready or failed."""
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name="repl-pool"
            )
        self._dispatch()
        deadline = time.monotonic() + self._settings.import_timeout + 5
        while wait and time.monotonic() < deadline:
            ready = {w.key.spare for w in self.workers}
            if all(key in ready or key in self._backoff for key in self.prewarm):
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Answer the queue with `Busy`, stop starting, kill every worker and wait for it all."""
        self.closing = self.closed = True
        for waiter in self._queue:
            if not waiter.future.done():
                waiter.future.set_exception(Busy("proofgate is shutting down: retry shortly"))
        self._queue.clear()
        if self._supervisor is not None:
            self._supervisor.cancel()
        workers, self.workers = self.workers, []
        for task in list(self._starts):
            task.cancel()  # closes run on: they wait until the killed process is reaped
        await asyncio.gather(*(w.repl.close() for w in workers), return_exceptions=True)
        for _ in range(100):  # requests still running retire their workers as they fail
            pending = list(self._tasks) + ([self._supervisor] if self._supervisor else [])
            await asyncio.gather(*pending, return_exceptions=True)
            if not self._tasks:
                return
            await asyncio.sleep(0.01)

    # --- handing workers out -------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def busy_count(self) -> int:
        return sum(1 for w in self.workers if w.busy)

    def queued_for(self, tenant: str) -> int:
        """Requests of `tenant` waiting for a worker."""
        return sum(1 for w in self._queue if w.key.tenant == tenant)

    def others_active(self, tenant: str) -> bool:
        """Whether a tenant other than `tenant` has a busy worker or a waiting request."""
        busy = (w.key.tenant for w in self.workers if w.busy)
        return any(other != tenant for other in busy) or any(
            w.key.tenant != tenant for w in self._queue
        )

    def tenants(self) -> int:
        """Tenants holding at least one worker."""
        return len({w.key.tenant for w in self.workers} - {None})

    async def acquire(self, key: HeaderKey, *, first: bool) -> Worker | HeaderFailure:
        """Wait (in order, up to `queue_wait`) for an idle worker of `key`; `first` jumps the queue."""
        if self.closed:
            raise Busy("proofgate is shutting down: retry shortly")
        waiter = _Waiter(key, asyncio.get_running_loop().create_future())
        if first:
            self._queue.appendleft(waiter)
        else:
            self._queue.append(waiter)
        self._dispatch()
        try:
            await asyncio.wait({waiter.future}, timeout=self._settings.queue_wait)
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                got = future.result()
                if isinstance(got, Worker):
                    self.release(got)
            future.cancel()
            raise
        finally:
            if waiter in self._queue:
                self._queue.remove(waiter)
        if not waiter.future.done():
            waiter.future.cancel()
            raise Busy(f"no worker free within {self._settings.queue_wait:g} s: retry later")
        return waiter.future.result()

    def release(self, worker: Worker) -> None:
        """Take a worker back after a request: idle again, or retired with the reason counted."""
        worker.busy = False
        worker.last_used = time.monotonic()
        cause = None
        if not worker.repl.alive:
            cause = death_cause(worker.repl.failure)
        elif worker.repl.tainted:
            cause = "strays"  # a process a request started could not be killed
        elif worker.served >= self._settings.recycle_after:
            cause = "recycled"
        else:
            if self.starter.outgrown(worker.repl):
                cause = "memory"
        if cause is not None:
            self._retire(worker, cause)
        self._dispatch()

    def _take_idle(self, key: HeaderKey) -> Worker | None:
        """The tenant's own most recently used idle worker of the header, else a spare one, which
        becomes the tenant's from now on."""
        for wanted in (key, key.spare):
            idle = [w for w in self.workers if w.key == wanted and not w.busy]
            for worker in sorted(idle, key=lambda w: w.last_used, reverse=True):
                if worker.repl.alive:
                    worker.key = key
                    return worker
                self._retire(worker, death_cause(worker.repl.failure))
        return None

    def _dispatch(self) -> None:
        """Hand idle workers to waiting requests in order and start workers where demand is unmet."""
        if self.closed:
            return
        busy = self.busy_count()
        held = [w.key for w in self.workers if w.busy]
        waiting = [w.key for w in self._queue if not w.future.done()]
        # Slots waiting tenants under their cap, and environments under their minimum, may claim
        # (`proofgate.lean.claims`): kept up to date as slots go.
        tenants = SlotClaims(
            self.tenant_cap, held=(k.tenant for k in held), waiting=(k.tenant for k in waiting)
        )
        environments = SlotClaims(
            self.environment_min,
            held=(k.environment for k in held),
            waiting=(k.environment for k in waiting),
        )
        for waiter in list(self._queue):
            if waiter.future.done():
                self._queue.remove(waiter)
                continue
            if busy >= self.max_busy:
                break
            key, free = waiter.key, self.max_busy - busy
            if not (
                tenants.allows(key.tenant, free) and environments.allows(key.environment, free)
            ):
                continue  # over its share: only a slot no other claim is waiting for
            if (worker := self._take_idle(key)) is not None:
                worker.busy = True
                busy += 1
                tenants.take(key.tenant)
                environments.take(key.environment)
                self._queue.remove(waiter)
                waiter.future.set_result(worker)
        # Evicting a warm worker pays only for a slot nothing warm can fill: while every slot is
        # busy, the next one freed serves the queue without an import (no churn under load). An
        # environment's claim is the exception: its worker starts on the room it needs (another
        # environment's idle worker evicted), since no slot would be handed to that one anyway.
        evictable = self.max_busy - busy - sum(self.starting.values())
        claimed = self._unstarted_claims(environments)
        spare = Counter(w.key for w in self.workers if w.key.tenant is None and not w.busy)
        spare.update({k: n for k, n in self.starting.items() if k.tenant is None})
        for key, wanted in Counter(w.key for w in self._queue).items():
            idle = sum(1 for w in self.workers if w.key == key and not w.busy)
            unmet = wanted - idle - self.starting[key]
            covered = min(max(unmet, 0), spare[key.spare])
            spare[key.spare] -= covered
            for _ in range(unmet - covered):
                claim = claimed[key.environment] > 0
                if self._processes() >= self.max_processes and not claim:
                    if evictable <= 0:
                        break
                    evictable -= 1
                if not self._make_room(key, environments if claim else None):
                    break
                claimed[key.environment] -= claim
                self.tenant_starts += 1
                self._spawn(key)
        if not self._queue and not self.closing:
            self._fill_prewarm()

    def _unstarted_claims(self, environments: SlotClaims[str]) -> Counter[str]:
        """Per environment, the claims no idle or starting worker of a waiting key will fill."""
        keys = {w.key for w in self._queue} | {w.key.spare for w in self._queue}
        supplied = Counter(w.key.environment for w in self.workers if not w.busy and w.key in keys)
        for key, count in self.starting.items():
            if key in keys:
                supplied[key.environment] += count
        return Counter(
            {
                environment: environments.of(environment) - supplied[environment]
                for environment in {key.environment for key in keys}
                if environments.of(environment) > supplied[environment]
            }
        )

    # --- starting and retiring -----------------------------------------------------------

    def _processes(self) -> int:
        return len(self.workers) + sum(self.starting.values())

    def _make_room(self, key: HeaderKey, claims: SlotClaims[str] | None = None) -> bool:
        """True if a worker for `key` may start, evicting the LRU idle worker nobody waits for;
        for an environment's claim (`claims`), one that only environments without a claim wait
        for may go too."""
        if self._processes() < self.max_processes:
            return True
        wanted = {w.key for w in self._queue} | {w.key.spare for w in self._queue}
        if claims is not None:
            wanted = {k for k in wanted if claims.of(k.environment) > 0}
        active = {w.key.tenant for w in self.workers if w.busy} | {
            w.key.tenant for w in self._queue
        }
        victim = eviction_victim(
            (
                w
                for w in self.workers
                if not w.busy and w.key not in (key, key.spare) and w.key not in wanted
            ),
            kept=lambda w: (w.key.tenant in active, w.key.spare in self.prewarm),
            last_used=lambda w: w.last_used,
        )
        if victim is None:
            return False
        self._retire(victim, "evicted")
        return True

    def _fill_prewarm(self) -> None:
        now = time.monotonic()
        while self.prewarm and self._processes() < self.max_processes:
            ready = [k for k in self.prewarm if self._backoff.get(k, (0, 0.0))[1] <= now]
            if not ready:
                return
            count = Counter(w.key.spare for w in self.workers)
            count.update({k.spare: n for k, n in self.starting.items()})
            self._spawn(min(ready, key=lambda k: count[k]))

    def _retire(self, worker: Worker, cause: str) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
            self.restarts[cause] += 1
            note(
                "info",
                "worker retired",
                pid=worker.repl.pid,
                cause=cause,
                header=worker.key.header[:80],
            )
        self._background(worker.repl.close())

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn(self, key: HeaderKey) -> None:
        self.starting[key] += 1
        task = self._background(self._start_worker(key))
        self._starts.add(task)
        task.add_done_callback(self._starts.discard)

    async def _start_worker(self, key: HeaderKey) -> None:
        try:
            started = await self.starter.start(self._environment(key.environment), key.header)
        except (ProofgateError, OSError) as exc:  # the environment lookup
            started = StartFailed(exc)
        finally:
            self.starting[key] -= 1
        if isinstance(started, StartFailed):
            self._start_failed(key, started.error, killed=started.killed)
            return
        repl, reply, seconds = started.repl, started.reply, started.seconds
        self.imports += 1
        self.import_seconds_total += seconds
        self.recent_import_seconds.append(seconds)
        if self.closed:
            await repl.close()
            return
        if reply.has_errors:
            self.restarts["header_failed"] += 1
            self._background(repl.close())
            self._answer_waiters(key, HeaderFailure(reply))
        else:
            assert reply.env is not None  # the driver refuses a command's reply without its env
            self._backoff.pop(key, None)
            worker = Worker(key, repl, reply.env)
            self.workers.append(worker)
            repl.on_exit(lambda: self._worker_exited(worker))
            note(
                "info",
                "worker ready",
                pid=repl.pid,
                header=key.header[:80],
                import_seconds=round(seconds, 3),
            )
        self._dispatch()

    def _start_failed(self, key: HeaderKey, exc: BaseException, *, killed: bool) -> None:
        """Count a failed start; fail the header's waiters unless it looks transient.

        A worker killed by a signal while importing (by an operator, the OOM killer, a test) is
        replaced and its waiters keep waiting (at most `queue_wait`); anything else (no Lean, a
        crash or memory cap on import, a broken command) is answered at once. Pre-warming backs
        off exponentially after failures in a row."""
        self.restarts["start_failed"] += 1
        failures = self._backoff.get(key, (0, 0.0))[0] + 1
        self._backoff[key] = (failures, time.monotonic() + min(60.0, 2.0**failures))
        note(
            "warning",
            "worker failed to start",
            header=key.header[:80],
            error=str(exc),
            failures=failures,
        )
        if not killed:  # a spawner's SpawnFailed is answered as a worker that crashed
            keep = isinstance(exc, ProofgateError) and not isinstance(exc, (ReplError, SpawnFailed))
            error = (
                exc
                if keep
                else ReplCrashed(
                    f"could not start a Lean worker for this header: {exc}",
                    stderr=getattr(exc, "stderr", ""),
                )
            )
            self._answer_waiters(key, error)
        self._dispatch()

    def _answer_waiters(self, key: HeaderKey, answer: HeaderFailure | BaseException) -> None:
        """Answer the waiters of `key`; a spare worker's failure answers every tenant's."""
        spare = key.tenant is None
        for waiter in [w for w in self._queue if w.key == key or (spare and w.key.spare == key)]:
            self._queue.remove(waiter)
            if waiter.future.done():
                continue
            if isinstance(answer, BaseException):
                waiter.future.set_exception(answer)
            else:
                waiter.future.set_result(answer)

    def _worker_exited(self, worker: Worker) -> None:
        """A worker stopped: if it was idle in the set, retire it and refill now (a busy one is
        retired by `release`; a retired one is gone already)."""
        if worker.busy or worker not in self.workers or self.closed:
            return
        self._retire(worker, death_cause(worker.repl.failure))
        self._dispatch()

    async def _supervise(self) -> None:
        """Retire workers that died while idle or idled too long on a cold header; refill."""
        while True:
            await sleep_on_grid(SUPERVISE_SECONDS)
            try:
                now = time.monotonic()
                for worker in list(self.workers):
                    if worker.busy:
                        continue
                    if not worker.repl.alive:
                        self._retire(worker, death_cause(worker.repl.failure))
                    elif (
                        worker.key.spare not in self.prewarm
                        and now - worker.last_used > COLD_IDLE_SECONDS
                    ):
                        self._retire(worker, "idle")
                self._dispatch()
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive any one bug
                note("error", "pool supervisor error", error=repr(exc))
