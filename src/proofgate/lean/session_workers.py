"""Long-lived REPL workers for proof sessions, keyed by (tenant, environment, header).

The pool (`proofgate.lean.pool`) runs each body on a fresh env and forgets it; a proof session needs
the proof states it made to outlive the request, so its worker must too. These workers are started
by the pool's own `WorkerStarter` (same launcher, same spawner, so the same sandbox and
memory cap; a header with no imports is elaborated too, and its env is the statements' base),
import their header once, and then serve every session of that (tenant, environment, header): the
REPL's proof-state ids are global to a worker, and each session maps them to its own ids. A worker
never serves two tenants' sessions.

A worker that dies, times out or is recycled is simply dropped: its sessions notice at their next
step and replay their tactic path on a fresh worker (`proofgate.sessions`). Capacity is
`settings.session_workers` processes in all; one worker serves all sessions of a header (the REPL
runs one command at a time); a worker nobody is attached to is evicted when another header needs
the room, and retired after `IDLE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import Busy, NotReady, ReplError, SpawnFailed, SubmissionError
from proofgate.lean.header_workers import (
    HeaderKey,
    StartFailed,
    WorkerStarter,
    eviction_victim,
)
from proofgate.lean.launch import ReplLauncher
from proofgate.lean.repl import ReplProcess
from proofgate.lean.reply import ReplReply
from proofgate.logs import get_logger
from proofgate.models.tenant import LOCAL
from proofgate.sandbox.process import Spawner

__all__ = ["SessionWorker", "SessionWorkers"]

#: A worker no session is attached to is retired after this many idle seconds.
IDLE_SECONDS = 300.0

_log = get_logger("proofgate.session_workers")
_serial = itertools.count(1)


@dataclass(eq=False)
class SessionWorker:
    """One REPL process with its header imported; `serial` tells two incarnations apart."""

    key: HeaderKey
    repl: ReplProcess
    header_env: int  # the header's env (the prelude-only env for no imports)
    serial: int = field(default_factory=lambda: next(_serial))
    sessions: int = 0  # sessions attached
    commands: int = 0
    retiring: bool = False
    idle_since: float = field(default_factory=time.monotonic)

    @property
    def usable(self) -> bool:
        """Alive and not being recycled: a session may (keep) using it."""
        return self.repl.alive and not self.retiring

    async def command(self, code: str, *, timeout: float) -> ReplReply:
        """Run Lean commands on top of the header's env."""
        self.commands += 1
        return await self.repl.command(code, env=self.header_env, timeout=timeout)

    async def tactic(self, tactic: str, proof_state: int, *, timeout: float) -> ReplReply:
        """Run one tactic on one of this worker's proof states (a REPL id)."""
        self.commands += 1
        return await self.repl.tactic(tactic, proof_state, timeout=timeout)


class SessionWorkers:
    """The session workers of one service; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        spawner: Spawner,
        launcher: ReplLauncher,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self.starter = WorkerStarter.from_settings(settings, spawner=spawner, launcher=launcher)
        self._clock = clock
        self._workers: list[SessionWorker] = []
        self._starting: dict[HeaderKey, asyncio.Future[SessionWorker]] = {}
        self._closed = False
        #: Retired workers still being closed: `close` waits for them too, so none outlives the
        #: loop (asyncio cannot close a subprocess transport once its loop is gone).
        self._closing: set[asyncio.Task[None]] = set()
        self.started = 0
        self.retired: dict[str, int] = {}

    # --- attaching -----------------------------------------------------------------------

    async def attach(
        self, environment: Environment, header: str, *, tenant: str = LOCAL
    ) -> SessionWorker:
        """A usable worker of `tenant` for (environment, header), started if need be, with one
        more session.

        Raises `SubmissionError` when the header does not import, `Busy` when every worker serves
        other headers' sessions, `NotReady` when no worker can be started."""
        if self._closed:
            raise Busy("proofgate is shutting down: retry shortly")
        key = HeaderKey(tenant, environment.name, header)
        self._drop_dead()
        while True:
            serving = [w for w in self._workers if w.key == key and w.usable]
            if serving:
                worker = min(serving, key=lambda w: w.sessions)
                break
            starting = self._starting.get(key)
            if starting is None:
                self._make_room(key)
                starting = asyncio.get_running_loop().create_future()
                self._starting[key] = starting
                try:
                    worker = await self._start(environment, key)
                except BaseException as exc:
                    self._starting.pop(key, None)
                    if not starting.done():
                        starting.set_exception(exc if isinstance(exc, Exception) else Busy())
                        starting.exception()  # retrieved here, waiters re-raise their own copy
                    raise
                self._starting.pop(key, None)
                self._workers.append(worker)
                starting.set_result(worker)
                break
            worker = await asyncio.shield(starting)
            if worker.usable:
                break
        worker.sessions += 1
        return worker

    def detach(self, worker: SessionWorker) -> None:
        """A session stops using `worker`; a worker being recycled goes once nobody uses it."""
        worker.sessions = max(0, worker.sessions - 1)
        if worker.sessions == 0:
            worker.idle_since = self._clock()
            if worker.retiring and not worker.repl.busy:
                self._retire(worker, "recycled")

    def after_command(self, worker: SessionWorker) -> None:
        """Mark a worker that served enough (or grew too much) for recycling; its sessions move."""
        if worker.retiring or not worker.repl.alive:
            return
        if (
            worker.repl.tainted  # a process a command started could not be killed
            or worker.commands >= self._settings.session_recycle_after
            or self.starter.outgrown(worker.repl)
        ):
            worker.retiring = True
            _log.info("session worker recycling", pid=worker.repl.pid, commands=worker.commands)
            if worker.sessions == 0 and not worker.repl.busy:
                self._retire(worker, "recycled")

    # --- starting and stopping -----------------------------------------------------------

    def _make_room(self, key: HeaderKey) -> None:
        """At capacity, evict an idle worker nobody is attached to, or one being recycled (its
        sessions move anyway), by the pool's rule (`eviction_victim`): recycling ones first."""
        if len(self._workers) + len(self._starting) < self._settings.session_workers:
            return
        victim = eviction_victim(
            (w for w in self._workers if not w.repl.busy and (w.sessions == 0 or w.retiring)),
            kept=lambda w: (not w.retiring,),
            last_used=lambda w: w.idle_since,
        )
        if victim is None:
            raise Busy(
                f"all {self._settings.session_workers} session workers serve other statements' "
                "open sessions: close a session or retry later (PROOFGATE_SESSION_WORKERS sets "
                "how many there are)",
                retry_after=5.0,
            )
        self._retire(victim, "evicted")

    async def _start(self, environment: Environment, key: HeaderKey) -> SessionWorker:
        """Start a header worker as the pool does; one retry when the process dies on the way."""
        for attempt in (1, 2):
            started = await self.starter.start(environment, key.header)
            if isinstance(started, StartFailed):
                exc = started.error
                if isinstance(exc, OSError):
                    raise NotReady(
                        f"could not start a Lean worker: {exc}", retry_after=5.0
                    ) from exc
                if not isinstance(exc, (ReplError, SpawnFailed)):
                    raise exc
                if attempt == 2:  # a failed spawn is retried like a crash
                    raise NotReady(
                        f"could not start a Lean worker for this session: {exc}", retry_after=5.0
                    ) from exc
                _log.warning("session worker failed to start", error=str(exc)[:200])
                continue
            repl, reply = started.repl, started.reply
            if reply.has_errors:
                await repl.close()
                raise SubmissionError(
                    f"the statement's imports do not load: {reply.errors[0].data[:300]}",
                    field="statement",
                )
            assert reply.env is not None  # the driver refuses a command's reply without its env
            self.started += 1
            _log.info("session worker ready", pid=repl.pid, header=key.header[:80])
            return SessionWorker(key, repl, reply.env, idle_since=self._clock())
        raise AssertionError("unreachable")

    def _retire(self, worker: SessionWorker, cause: str) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
            self.retired[cause] = self.retired.get(cause, 0) + 1
            _log.info("session worker retired", pid=worker.repl.pid, cause=cause)
        worker.retiring = True
        worker.repl.kill()
        task = asyncio.get_running_loop().create_task(worker.repl.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())

    def _drop_dead(self) -> None:
        for worker in [w for w in self._workers if not w.repl.alive]:
            self._retire(worker, "died")

    def sweep(self) -> None:
        """Retire dead workers, idle ones past `IDLE_SECONDS`, and recycled ones nobody uses."""
        self._drop_dead()
        now = self._clock()
        for worker in list(self._workers):
            if worker.repl.busy or worker.sessions:
                continue
            if worker.retiring:
                self._retire(worker, "recycled")
            elif now - worker.idle_since > IDLE_SECONDS:
                self._retire(worker, "idle")

    def stats(self) -> dict[str, object]:
        return {
            "workers": len(self._workers),
            "starting": len(self._starting),
            "started": self.started,
            "retired": dict(self.retired),
            "sessions_by_worker": {w.repl.pid: w.sessions for w in self._workers},
        }

    async def close(self) -> None:
        """Kill every worker and wait for them."""
        self._closed = True
        workers, self._workers = self._workers, []
        closing = [w.repl.close() for w in workers]
        await asyncio.gather(*closing, *list(self._closing), return_exceptions=True)
