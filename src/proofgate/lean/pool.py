"""The pool of warm REPL workers, keyed by (environment, header): what the checker calls to run Lean.

Contract of `ReplPool.run(code, environment=, timeout=, tenant=)`:
- `environment` and `timeout` are the caller's resolved values (the service looks the environment
  up and clamps the request's timeout once, `CheckerService`); the pool uses them as given. Left
  out, they are the "default" environment and `request_timeout` (for callers with no request:
  `proofgate bench`, tests). `tenant` (`proofgate.models.tenant`; `local` when left out) is whose
  workers may run it: a worker never serves two tenants.
- `code` is split into its leading `import`s (the header) and the body (`proofgate.lean.header`).
  A worker elaborates its header once and keeps that env id; every body runs as
  `{"cmd": body, "env": header_env}`, never on top of another submission's env. A submission
  without imports has its own header key (the REPL's prelude-only env). Positions in the returned
  reply are the submitter's own lines and columns.
- It returns a `ReplRun`, or raises: `ReplTimeout` (wall-clock limit hit; the worker's whole tree
  was killed) and `ReplOutOfMemory` (private memory over the cap), which are the submission's
  outcome and never retried; `ReplCrashed` / `ReplProtocolError` when a worker died or misbehaved
  on it twice (the first failure is retried once on another worker), or at once when the spawner
  could not start a worker (its `SpawnFailed`); its subclass `WorkerKilled` when both workers died
  by the same signal (the submission kills its worker: the caller's verdict, not a fault);
  `ReplCommandError` when the REPL refused the command; `Busy` when the queue is full, the wait
  ran out or the pool is closing, and its subclass `TenantBusy` when the tenant's own queue is
  full while other tenants are active; `LeanUnavailable` when the toolchain a worker needs is missing.
- If the header itself fails to elaborate (an unknown module), the run returns that header reply,
  mapped to the import lines, with `header_failed=True`; no body runs.

Which worker serves a request, and the workers' lives, belong to `proofgate.lean.workers`.
Proof sessions (tactic mode, `run_tactic`) do not use this pool: they hold long-lived workers of
their own (`proofgate.lean.session_workers`).
Untested against real Lean here: the REPL side is exercised with the simulated REPL.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from proofgate.config import Settings
from proofgate.environments.registry import Environment, discover_environments
from proofgate.exceptions import (
    Busy,
    ReplCrashed,
    SubmissionError,
    TenantBusy,
    WorkerKilled,
)
from proofgate.lean.header import (
    SplitSource,
    map_body_positions,
    map_header_positions,
    split_header,
)
from proofgate.lean.header_workers import HeaderKey
from proofgate.lean.launch import LeanReplLauncher, ReplLauncher
from proofgate.lean.repl import WORKER_LOST
from proofgate.lean.reply import ReplReply
from proofgate.lean.workers import RECENT_SAMPLES, HeaderFailure, WorkerSet, note
from proofgate.models.tenant import LOCAL
from proofgate.sandbox.process import Spawner
from proofgate.ticks import wait_for

__all__ = ["PoolStats", "ReplPool", "ReplRun"]

#: Workers found dead (killed while idle) that one request may skip before it gives up.
MAX_UNSENT = 8


@dataclass
class ReplRun:
    """One body run: the REPL's reply with positions mapped to the submitter's `code`.

    With `header_failed`, `reply` is the header's own reply (no body ran) and `worker_pid` is 0."""

    reply: ReplReply
    header: str
    header_lines: int
    worker_pid: int
    attempts: int
    queue_ms: float
    run_ms: float
    header_failed: bool = False


@dataclass
class PoolStats:
    """Counters for metrics; plain values, safe to read at any time."""

    queue_depth: int
    in_flight: int
    busy_workers: int
    idle_workers: int
    starting_workers: int
    max_busy: int
    max_processes: int
    requests: int
    retries: int
    busy_rejections: int
    restarts: dict[str, int]  # cause -> workers retired for it
    workers_by_header: dict[str, int]
    tenants: int  # tenants holding a worker
    tenant_starts: int  # workers started for one tenant's request (it waited for an import)
    imports: int
    import_seconds_total: float
    checks: int
    check_seconds_total: float
    recent_import_seconds: list[float] = field(default_factory=list)
    recent_check_seconds: list[float] = field(default_factory=list)


def _killed_alike(first: BaseException | None, second: ReplCrashed) -> bool:
    """Both tries' workers died by one and the same signal (not the pool's own timeout or memory
    cap: those are `ReplTimeout` and `ReplOutOfMemory`, never retried)."""
    return (
        isinstance(first, ReplCrashed)
        and first.signal is not None
        and first.signal == second.signal
    )


class ReplPool:
    """Warm REPL workers keyed by (environment, header); see the module docstring for the contract."""

    def __init__(
        self,
        settings: Settings,
        *,
        spawner: Spawner,
        launcher: ReplLauncher | None = None,
        environments: Mapping[str, Environment] | None = None,
    ) -> None:
        """`environments`: the ones the caller discovered (the service's); else found at start."""
        self._settings = settings
        self._environments: dict[str, Environment] = dict(environments or {})
        self._workers = WorkerSet(
            settings,
            spawner=spawner,
            launcher=launcher if launcher is not None else LeanReplLauncher(settings),
            environment=self._environments.__getitem__,
        )
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._requests = self._retries = self._rejections = self._checks = 0
        self._check_seconds_total = 0.0
        self._recent_checks: deque[float] = deque(maxlen=RECENT_SAMPLES)

    async def start(self, *, wait: bool = True) -> None:
        """Start supervising and pre-warm `settings.prewarm_headers` for "default".

        With `wait`, return once each pre-warmed header has a ready worker or failed to start."""
        if not self._environments:
            self._environments.update(discover_environments(self._settings))
        await self._workers.start(wait=wait)

    async def close(self, *, drain_timeout: float = 10.0) -> None:
        """Refuse new requests, let running ones finish for up to `drain_timeout`, then kill all."""
        self._workers.closing = True
        if self._in_flight:
            self._drained.clear()
            try:
                await wait_for(self._drained.wait(), drain_timeout)
            except asyncio.TimeoutError:
                note(
                    "warning",
                    "pool drain timed out; killing the workers",
                    in_flight=self._in_flight,
                )
        await self._workers.close()

    async def run(
        self,
        code: str,
        *,
        environment: Environment | None = None,
        timeout: float | None = None,
        all_tactics: bool = False,
        infotree: str | None = None,
        tenant: str = LOCAL,
    ) -> ReplRun:
        """Check `code` on a warm worker of its tenant and header; see the module docstring for
        the resolved `environment` and `timeout` and for what raises."""
        if self._workers.closing:
            raise Busy("proofgate is shutting down: retry shortly")
        if not self._workers.started:
            await self.start(wait=False)
        if environment is None:
            environment = self._environments["default"]
        else:  # a worker for it is started from this very value
            self._environments[environment.name] = environment
        if timeout is None:
            timeout = self._settings.request_timeout
        elif timeout <= 0:
            raise SubmissionError("timeout must be positive", field="timeout")
        split = split_header(code)
        if self._workers.queue_depth >= self._settings.max_queue:
            self._rejections += 1
            raise Busy(f"{self._workers.queue_depth} requests already queued: retry later")
        queued = self._workers.queued_for(tenant)
        if queued >= self._settings.tenant_queue_cap and self._workers.others_active(tenant):
            self._rejections += 1
            raise TenantBusy(
                f"{queued} requests of this API key already wait for a worker while other keys "
                "are served: retry later"
            )
        self._in_flight += 1
        self._requests += 1
        try:
            return await self._run(
                split,
                HeaderKey(tenant, environment.name, split.header),
                timeout,
                all_tactics=all_tactics,
                infotree=infotree,
            )
        except Busy:
            self._rejections += 1
            raise
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._drained.set()

    async def _run(
        self,
        split: SplitSource,
        key: HeaderKey,
        timeout: float,
        *,
        all_tactics: bool,
        infotree: str | None,
    ) -> ReplRun:
        """Run the body on a worker; a crash or protocol fault is retried once on another one."""
        queued_at = time.monotonic()
        attempts = unsent = 0
        first_death: BaseException | None = None
        while True:
            attempts += 1
            got = await self._workers.acquire(key, first=attempts > 1 or unsent > 0)
            queue_ms = (time.monotonic() - queued_at) * 1000
            if isinstance(got, HeaderFailure):
                reply = map_header_positions(got.reply, split)
                return ReplRun(
                    reply,
                    split.header,
                    split.header_lines,
                    0,
                    attempts,
                    queue_ms,
                    0.0,
                    header_failed=True,
                )
            worker, started = got, time.monotonic()
            sent_before = worker.repl.commands_sent
            try:
                reply = await worker.repl.command(
                    split.body,
                    env=worker.header_env,
                    all_tactics=all_tactics,
                    infotree=infotree,
                    timeout=timeout,
                )
            except WORKER_LOST as exc:
                self._workers.release(worker)
                if worker.repl.commands_sent == sent_before and unsent < MAX_UNSENT:
                    unsent += 1  # it died idle before the code was sent: not an attempt
                    attempts -= 1
                    continue
                if attempts >= 2:
                    again = f"{exc} (it had already been retried once on another worker)"
                    if isinstance(exc, ReplCrashed) and _killed_alike(first_death, exc):
                        raise WorkerKilled(again, stderr=exc.stderr, signal=exc.signal) from exc
                    raise type(exc)(again, stderr=exc.stderr) from exc
                first_death = exc
                self._retries += 1
                note("warning", "retrying on another worker", pid=worker.repl.pid, error=str(exc))
                continue
            except BaseException:
                self._workers.release(worker)
                raise
            seconds = time.monotonic() - started
            worker.served += 1
            self._checks += 1
            self._check_seconds_total += seconds
            self._recent_checks.append(seconds)
            self._workers.release(worker)
            return ReplRun(
                map_body_positions(reply, split.header_lines),
                split.header,
                split.header_lines,
                worker.repl.pid,
                attempts,
                queue_ms,
                seconds * 1000,
            )

    def stats(self) -> PoolStats:
        workers = self._workers
        busy = workers.busy_count()
        by_header: dict[str, int] = {}
        for worker in workers.workers:
            label = f"{worker.key.environment}:{worker.key.header or '(no imports)'}"
            by_header[label] = by_header.get(label, 0) + 1
        return PoolStats(
            queue_depth=workers.queue_depth,
            in_flight=self._in_flight,
            busy_workers=busy,
            idle_workers=len(workers.workers) - busy,
            starting_workers=sum(workers.starting.values()),
            max_busy=workers.max_busy,
            max_processes=workers.max_processes,
            requests=self._requests,
            retries=self._retries,
            busy_rejections=self._rejections,
            restarts=dict(workers.restarts),
            workers_by_header=by_header,
            tenants=workers.tenants(),
            tenant_starts=workers.tenant_starts,
            imports=workers.imports,
            import_seconds_total=workers.import_seconds_total,
            checks=self._checks,
            check_seconds_total=self._check_seconds_total,
            recent_import_seconds=list(workers.recent_import_seconds),
            recent_check_seconds=list(self._recent_checks),
        )
