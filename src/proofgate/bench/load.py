"""Load on the bench server: closed-loop HTTP clients, a health prober, a worker killer.

Clients are asyncio tasks over one `httpx.AsyncClient` (each sends its next check as soon as the last
one is answered). The prober is a thread with its own client, so its timings do not wait on the
clients' event loop; it also samples the server's RSS. The killer SIGKILLs one of the server's
workers at random times, preferring one that is running a check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from proofgate.bench.server import BenchServer
from proofgate.bench.workload import Job, JobFactory, WorkerReport, parse_worker_report

__all__ = ["HealthProber", "Kill", "Sample", "Send", "WorkerKiller", "closed_loop", "send_job"]

#: A worker younger than its import time plus this may still be importing (a busy machine slows
#: the start): the killer does not count it as running a check.
STARTUP_MARGIN_SECONDS = 3.0
#: Seconds a client waits for one answer before counting the request as lost.
REQUEST_TIMEOUT = 120.0


@dataclass
class Sample:
    """One request as the client saw it (monotonic seconds, comparable with the worker's report)."""

    job: Job
    sent: float
    received: float
    http_status: int
    verdict: str | None
    error: str | None = None
    worker: WorkerReport | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.verdict == "proved" and self.error is None

    @property
    def latency(self) -> float:
        return self.received - self.sent


async def send_job(client: httpx.AsyncClient, job: Job) -> Sample:
    """POST one job to `/v1/check`; any failure is recorded in the sample, never raised."""
    sent = time.monotonic()
    try:
        response = await client.post(
            "/v1/check", json=job.body, headers={"X-Request-ID": job.request_id}
        )
    except httpx.HTTPError as exc:
        return Sample(job, sent, time.monotonic(), 0, None, error=f"{type(exc).__name__}: {exc}")
    received = time.monotonic()
    try:
        body = response.json()
    except ValueError:
        return Sample(job, sent, received, response.status_code, None, error=response.text[:200])
    if response.status_code != 200:
        return Sample(job, sent, received, response.status_code, None, error=str(body)[:300])
    return Sample(
        job,
        sent,
        received,
        200,
        body.get("status"),
        error=None if body.get("status") == "proved" else str(body.get("reason"))[:300],
        worker=parse_worker_report(body.get("messages", [])),
        timings=dict(body.get("timings", {})),
    )


#: Sends one job and records it: `send_job` (proofgate's `/v1/check`), or another service's call.
Send = Callable[[httpx.AsyncClient, Job], Awaitable[Sample]]


async def closed_loop(
    base_url: str,
    factory: JobFactory,
    *,
    concurrency: int,
    seconds: float,
    send: Send = send_job,
    until: Callable[[list[Sample]], bool] | None = None,
    most_seconds: float | None = None,
) -> list[Sample]:
    """`concurrency` clients, each sending its next job (with `send`) as soon as its last one is
    answered, until `seconds` have passed (and, with `until`, until `until(samples)` holds or
    `most_seconds` have passed); requests still in flight then are awaited and kept."""
    started = time.monotonic()
    stop_at = started + seconds
    give_up_at = started + max(seconds, most_seconds or seconds)

    def going() -> bool:
        now = time.monotonic()
        if now < stop_at:
            return True
        return until is not None and now < give_up_at and not until(samples)

    samples: list[Sample] = []
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:

        async def one_client() -> None:
            while going():
                samples.append(await send(client, factory.next()))

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return samples


class HealthProber:
    """Probes `path` (`/healthz`) every `interval` seconds in a thread and samples the server's RSS."""

    def __init__(
        self, server: BenchServer, *, interval: float = 0.05, path: str = "/healthz"
    ) -> None:
        self.server = server
        self.interval = interval
        self.path = path
        self.latencies: list[float] = []
        self.failures = 0
        self.rss: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-health-prober", daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=10.0) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    ok = client.get(self.path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.monotonic() - began
                if ok:
                    self.latencies.append(took)
                else:
                    self.failures += 1
                with contextlib.suppress(psutil.Error):  # the server may be stopping
                    self.rss.append(self.server.rss_bytes())
                self._stop.wait(max(0.0, self.interval - took))

    def __enter__(self) -> HealthProber:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15.0)


@dataclass(frozen=True)
class Kill:
    at: float  # monotonic seconds
    pid: int
    busy: bool


def _sleeping(pid: int) -> bool | None:
    """True if the simulated worker sleeps (in a check or an import), False if it is blocked
    reading its stdin; None if the kernel does not tell (`/proc/PID/wchan` empty or absent)."""
    try:
        channel = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return None
    if not channel or channel == "0":
        return None
    return "sleep" in channel


class WorkerKiller:
    """SIGKILLs a random worker of `server` every `every` seconds on average (uniform jitter of
    plus or minus half), preferring one that is running a check (not importing, not idle)."""

    def __init__(
        self, server: BenchServer, *, every: float, import_seconds: float, seed: int = 0
    ) -> None:
        self.server = server
        self.every = every
        self.import_seconds = import_seconds
        self.kills: list[Kill] = []
        self._rng = random.Random(f"kills:{seed}")

    async def run(self, seconds: float) -> None:
        stop_at = time.monotonic() + seconds
        while True:
            delay = self.every * self._rng.uniform(0.5, 1.5)
            if time.monotonic() + delay >= stop_at:
                return
            await asyncio.sleep(delay)
            await self.kill_one()

    async def kill_one(self, *, patience: float = 0.5) -> Kill | None:
        """SIGKILL a worker running a check, looking for one for up to `patience` seconds, else
        an idle warm one; never one that may still be importing (that fault would be the
        start's, not a check's)."""
        give_up = time.monotonic() + patience
        while True:
            states = {pid: self._state(pid) for pid in self.server.worker_pids()}
            busy = [pid for pid, state in states.items() if state == "busy"]
            if busy or time.monotonic() >= give_up:
                break
            await asyncio.sleep(0.01)
        idle = [pid for pid, state in states.items() if state in ("idle", "unknown")]
        if not (busy or idle):
            return None
        victim = self._rng.choice(busy or idle)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        kill = Kill(time.monotonic(), victim, states[victim] == "busy")
        self.kills.append(kill)
        return kill

    def _state(self, pid: int) -> str:
        """`busy` (sleeping in a check), `idle` (reading its stdin), `starting` (young enough to
        be importing, which sleeps too), or `unknown` (no /proc/PID/wchan)."""
        try:
            age = time.time() - psutil.Process(pid).create_time()
        except psutil.Error:
            return "gone"
        if age < self.import_seconds + STARTUP_MARGIN_SECONDS:
            return "starting"
        sleeping = _sleeping(pid)
        return "unknown" if sleeping is None else ("busy" if sleeping else "idle")
