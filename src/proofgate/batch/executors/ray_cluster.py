"""The `--ray [ADDRESS]` batch backend: Ray actors, each holding one warm `CheckerService`.

Work goes to actors by header (environment and leading imports): an actor keeps getting the
headers its pool already has warm, a header no actor has yet goes to the next free actor, and only
then is a busy header shared. An actor that dies (killed, its node lost, out of memory) takes its
in-flight items with it; they are queued again for the other actors and a replacement actor is
started. An item lost with `max_attempts` actors is recorded as an `infrastructure` error.

Ray is the optional `ray` extra. Every use sets RAY_USAGE_STATS_ENABLED=0. `address` is Ray's:
`"local"` starts a private Ray for this run, `"auto"` joins the cluster this machine belongs to,
`"HOST:PORT"` / `"ray://HOST:10001"` a given one, and None uses the Ray this process already
initialised (else starts a local one).

Tested on a local two-CPU Ray cluster with the stand-in checking stack; untested on a multi-node
cluster and against real Lean.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from proofgate.batch.executors.base import BatchExecutor, wait_while_busy
from proofgate.batch.input import BatchItem, BatchRecord, header_key
from proofgate.config import Settings
from proofgate.exceptions import Busy, ConfigError, NotReady, SubmissionError
from proofgate.logs import get_logger
from proofgate.models import Submission, Verdict
from proofgate.models.http import EnvironmentInfo
from proofgate.service import CheckerService
from proofgate.store.lock import DataDirLock, claim_data_dir

__all__ = [
    "CheckerActor",
    "RayExecutor",
    "ServiceActor",
    "actor_settings",
    "import_ray",
    "lost_actor_errors",
]

_log = get_logger("proofgate.batch.ray")

#: Builds the service an actor holds; it runs inside the actor, so it must be importable there.
ServiceFactory = Callable[[], CheckerService]
HeaderKey = tuple[str, str]  # (environment, normalized header): the pool's key


def import_ray() -> Any:
    """The `ray` module, with usage statistics off; a missing extra is a `ConfigError`."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "Ray is not installed: install the `ray` extra (pip install 'proofgate[ray]')"
        ) from exc
    return ray


def lost_actor_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """The Ray errors that mean an actor is gone (killed, crashed, its node or its objects lost,
    out of memory), not that its work failed: that work goes to another actor."""
    errors = ray.exceptions
    return (
        errors.RayActorError,
        errors.WorkerCrashedError,
        errors.NodeDiedError,
        errors.ObjectLostError,
        errors.OutOfMemoryError,
    )


def actor_settings(base: Settings | None = None) -> tuple[Settings, DataDirLock]:
    """The settings an actor's service runs on: its node's `PROOFGATE_*`, with a data directory
    of its own (the first free `DATA_DIR/actors/<n>`, locked for the actor's life), so actors on
    one machine never share a store, a scratch directory or a server's job tables."""
    base = base or Settings()
    lock = claim_data_dir(base.data_dir / "actors")
    return Settings(data_dir=lock.data_dir), lock


class ServiceActor:
    """What a Ray actor holding a `CheckerService` for its life shares: the service, made by
    `factory` or on the actor's own locked data directory, and how it ends. The batch's
    `CheckerActor` and the rewards' `RewardActor` are ones."""

    def __init__(self, factory: ServiceFactory | None = None) -> None:
        self._factory = factory
        self._service: CheckerService | None = None
        self._data_lock: DataDirLock | None = None

    async def pid(self) -> int:
        return os.getpid()

    async def close(self) -> None:
        if self._service is not None:
            await self._service.close()
            self._service = None
        if self._data_lock is not None:
            self._data_lock.release()
            self._data_lock = None


class CheckerActor(ServiceActor):
    """Lives in a Ray worker: one `CheckerService` (one warm REPL pool) for the actor's life."""

    async def start(self) -> dict[str, Any]:
        """Start the service; say whether it can verify, and why not."""
        if self._factory is not None:
            service = self._factory()
        else:
            settings, self._data_lock = actor_settings()
            service = CheckerService(settings)
        await service.start()
        self._service = service
        readiness = service.readiness()
        return {
            "pid": os.getpid(),
            "ready": readiness.ready,
            "reasons": readiness.reasons,
            "environments": service.environments(),
        }

    async def check(self, submission_json: str) -> dict[str, Any]:
        """One submission's verdict (as JSON), or the error the driver must act on."""
        if self._service is None:
            return {"error": "not_ready", "message": "the actor's service is not started"}
        submission = Submission.model_validate_json(submission_json)
        attempts = 0
        while True:
            attempts += 1
            try:
                verdict = await self._service.check(submission)
            except SubmissionError as exc:
                return {"error": "submission", "message": str(exc), "field": exc.field}
            except Busy as exc:
                try:
                    await wait_while_busy(exc, attempts)
                except Busy:
                    return {"error": "busy", "message": str(exc)}
                continue
            except NotReady as exc:
                return {"error": "not_ready", "message": str(exc)}
            return {"verdict": verdict.model_dump_json()}


@dataclass(eq=False)
class _Actor:
    """The driver's view of one actor: its handle, warm headers and calls in flight."""

    handle: Any
    number: int
    headers: set[HeaderKey] = field(default_factory=set)
    in_flight: int = 0
    alive: bool = True


class RayExecutor(BatchExecutor):
    """Checks items on Ray actors; `concurrency` is the calls in flight per actor."""

    name = "ray"

    def __init__(
        self,
        address: str | None = "local",
        *,
        actors: int | None = None,
        concurrency: int | None = None,
        service_factory: ServiceFactory | None = None,
        max_attempts: int = 3,
        actor_cpus: float = 1.0,
        window: int = 2000,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(concurrency=concurrency or 4)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.address = address
        self.max_attempts = max_attempts
        self._wanted = actors
        self._factory = service_factory
        self._actor_cpus = actor_cpus
        self._window = max(window, 1)
        self._init_options = dict(init_options or {})
        self._ray: Any = None
        self._remote: Any = None
        self._owns_ray = False
        self._actors: list[_Actor] = []
        self._started = 0
        self._target = 0  # actors to keep alive (replacements included)
        self._lost_errors: tuple[type[BaseException], ...] = ()
        self._listed: list[EnvironmentInfo] | None = None  # the first actor's environments

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        ray = self._ray = import_ray()
        self._lost_errors = lost_actor_errors(ray)
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, **self._init_options}
            if self.address not in (None, "local"):
                options["address"] = self.address
            else:
                # never a cluster found on the machine (RAY_ADDRESS, the latest started): our own
                options["address"] = "local"
                options.setdefault("include_dashboard", False)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                where = self.address or "a local Ray"
                raise NotReady(
                    f"cannot start or reach Ray at {where}: {exc}; check the address "
                    "(`ray status` on the cluster's head node shows it)"
                ) from exc
            self._owns_ray = True
        wanted = self._wanted or max(1, sum(1 for node in ray.nodes() if node.get("Alive")))
        self._remote = ray.remote(CheckerActor).options(
            num_cpus=self._actor_cpus, max_restarts=0, scheduling_strategy="SPREAD"
        )
        self._target = wanted
        await asyncio.gather(*(self._spawn() for _ in range(wanted)))
        _log.info("ray_actors_ready", actors=len(self._actors), address=self.address)

    async def _spawn(self) -> _Actor:
        """Start one actor and wait until its service is up."""
        self._started += 1
        actor = _Actor(self._remote.remote(self._factory), self._started)
        try:
            info = await self._await(actor.handle.start.remote())
        except self._lost_errors as exc:
            raise NotReady(f"a Ray actor died while starting: {exc}") from exc
        if not info.get("ready"):
            self._ray.kill(actor.handle)
            reasons = "; ".join(info.get("reasons") or ["unknown"])
            raise NotReady(f"a Ray actor cannot verify: {reasons}")
        if self._listed is None and info.get("environments") is not None:
            self._listed = [EnvironmentInfo.model_validate(e) for e in info["environments"]]
        self._actors.append(actor)
        return actor

    async def environments(self) -> list[EnvironmentInfo] | None:
        """What the first actor's service serves (actors are configured alike), once started."""
        return self._listed

    async def close(self) -> None:
        ray, actors, self._actors = self._ray, self._actors, []
        if ray is None:
            return
        closing = [self._await(a.handle.close.remote()) for a in actors if a.alive]
        if closing:
            try:
                await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 30)
            except asyncio.TimeoutError:
                _log.warning("ray_actor_close_timeout", actors=len(closing))
        for actor in actors:
            with contextlib.suppress(Exception):  # a dead or unknown actor needs no killing
                ray.kill(actor.handle)
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def actor_handles(self) -> list[Any]:
        """The live actors' handles (tests kill one to show its items are retried elsewhere)."""
        return [actor.handle for actor in self._actors if actor.alive]

    @staticmethod
    def _await(ref: Any) -> asyncio.Future[Any]:
        return asyncio.wrap_future(ref.future())

    # --- scheduling ----------------------------------------------------------------------

    def _live(self) -> list[_Actor]:
        return [actor for actor in self._actors if actor.alive]

    def _pick(
        self, actor: _Actor, queues: dict[HeaderKey, deque[tuple[BatchItem, int]]]
    ) -> HeaderKey:
        """The header `actor` should run next: its own warm one, else an unclaimed, else the
        longest queue (sharing a header only when nothing else is waiting)."""
        warm = [key for key in actor.headers if key in queues]
        if warm:
            return max(warm, key=lambda key: len(queues[key]))
        claimed = set().union(*(other.headers for other in self._live()))
        unclaimed = [key for key in queues if key not in claimed]
        return max(unclaimed or queues, key=lambda key: len(queues[key]))

    async def check_many(self, items: Iterable[BatchItem]) -> AsyncGenerator[BatchRecord, None]:
        source = iter(items)
        exhausted = False
        queues: dict[HeaderKey, deque[tuple[BatchItem, int]]] = {}
        queued = 0
        calls: dict[asyncio.Future[Any], tuple[_Actor, BatchItem, int]] = {}
        spawning: set[asyncio.Task[_Actor]] = set()

        def enqueue(item: BatchItem, attempts: int, *, front: bool = False) -> None:
            nonlocal queued
            queue = queues.setdefault(header_key(item.submission), deque())
            (queue.appendleft if front else queue.append)((item, attempts))
            queued += 1

        try:
            while True:
                while not exhausted and queued < self._window:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                    else:
                        enqueue(item, 0)
                for actor in self._live():
                    while queued and actor.in_flight < self.concurrency:
                        key = self._pick(actor, queues)
                        item, attempts = queues[key].popleft()
                        queued -= 1
                        if not queues[key]:
                            del queues[key]
                        actor.headers.add(key)
                        actor.in_flight += 1
                        call = self._await(
                            actor.handle.check.remote(item.submission.model_dump_json())
                        )
                        calls[call] = (actor, item, attempts + 1)
                if not calls and not spawning:
                    if exhausted and not queued:
                        return
                    raise NotReady("every Ray actor was lost; resume when the cluster is healthy")
                done, _ = await asyncio.wait(
                    {*calls, *spawning}, return_when=asyncio.FIRST_COMPLETED
                )
                for finished in done:
                    if finished in spawning:
                        spawning.discard(finished)
                        if finished.exception() is not None:
                            _log.warning("ray_replacement_failed", error=str(finished.exception()))
                        continue
                    actor, item, attempts = calls.pop(finished)
                    actor.in_flight -= 1
                    try:
                        answer = finished.result()
                    except self._lost_errors as exc:
                        if actor.alive:
                            actor.alive = False
                            _log.warning(
                                "ray_actor_lost", actor=actor.number, error=type(exc).__name__
                            )
                            if len(self._live()) + len(spawning) < self._target:
                                spawning.add(asyncio.create_task(self._spawn()))
                        if attempts >= self.max_attempts:
                            yield item.error(
                                "infrastructure",
                                f"lost with its Ray actor {attempts} times ({type(exc).__name__}); "
                                "the check may crash its worker",
                                attempts=attempts,
                            )
                        else:
                            enqueue(item, attempts, front=True)
                        continue
                    yield self._record(item, answer, attempts)
        finally:
            for pending in [*calls, *spawning]:
                pending.cancel()

    def _record(self, item: BatchItem, answer: dict[str, Any], attempts: int) -> BatchRecord:
        if "verdict" in answer:
            return item.record(Verdict.model_validate_json(answer["verdict"]), attempts=attempts)
        error = answer.get("error")
        if error == "submission":
            return item.error(
                "submission", answer["message"], field=answer.get("field"), attempts=attempts
            )
        if error == "busy":
            raise Busy(f"a Ray actor stayed busy: {answer['message']}")
        raise NotReady(f"a Ray actor cannot verify: {answer.get('message', answer)}")
