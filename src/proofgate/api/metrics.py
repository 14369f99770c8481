"""Prometheus metrics: `/metrics`, one registry per app, pool numbers read at scrape time.

The pool's numbers come from `service.pool_stats()` when the service has it: a mapping or a
dataclass such as `proofgate.lean.pool.PoolStats`. Known fields: `queue_depth`, `in_flight`,
`max_busy`, `max_processes` (gauges); `busy_workers`/`idle_workers`/`starting_workers` (or `busy`,
`idle`, `starting`) as `proofgate_pool_workers{state}`; `restarts` (cause -> count) and
`workers_by_header` (header -> count); `requests`, `retries`, `busy_rejections`, `imports`,
`checks`, `tenant_starts`, `import_seconds_total`, `check_seconds_total` (counters); `tenants`.
Any other number becomes a `proofgate_pool_<name>` gauge; lists are skipped. Without
`pool_stats()` the pool series are absent.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import ClassVar, TypeGuard, TypeVar

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from proofgate.logs import get_logger
from proofgate.models import Verdict

__all__ = ["Metrics", "PoolCollector", "pool_stats_mapping", "router"]

PoolStatsReader = Callable[[], object]
Extra = TypeVar("Extra")

_log = get_logger("proofgate.metrics")
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_CHECK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
_NAME = re.compile(r"[^a-zA-Z0-9_]")
_WORKER_STATES = {
    "busy_workers": "busy",
    "busy": "busy",
    "idle_workers": "idle",
    "idle": "idle",
    "starting_workers": "starting",
    "starting": "starting",
}
_GAUGES = {
    "queue_depth": "Requests waiting for a worker.",
    "in_flight": "Requests being served or waiting.",
    "max_busy": "Workers allowed to serve at once.",
    "max_processes": "Worker processes allowed in all.",
    "tenants": "Tenants (API keys) holding a worker; a worker serves one tenant only.",
}
_COUNTERS = {
    "requests": "Requests the pool accepted.",
    "retries": "Requests retried on a fresh worker after a crash.",
    "busy_rejections": "Requests refused because the queue was full.",
    "imports": "Header imports run.",
    "checks": "Submissions run on a worker.",
    "tenant_starts": "Workers started for one tenant's request, which waited for their header "
    "import (a tenant's first request, or one no warm worker of its own could serve).",
    "import_seconds_total": "Seconds spent importing headers.",
    "check_seconds_total": "Seconds spent running submissions.",
}


def pool_stats_mapping(stats: object) -> dict[str, object]:
    """The pool's statistics as a plain dict, whether given as a mapping or a dataclass."""
    if stats is None:
        return {}
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    if isinstance(stats, Mapping):
        return dict(stats)
    raise TypeError(f"pool_stats() returned {type(stats).__name__}, not a mapping or dataclass")


class _ReadAtScrape(Collector):
    """Series whose numbers are read when Prometheus scrapes; a failing read omits them."""

    #: The warning logged when the read fails.
    _failed: ClassVar[str]

    def __init__(self, read: Callable[[], object]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []  # unknown until scraped; keeps registration from calling the reader

    def collect(self) -> Iterator[Metric]:
        try:
            stats = pool_stats_mapping(self._read())  # a mapping, or a dataclass such as PoolStats
        except Exception as exc:  # the reader's problem must not break a scrape
            _log.warning(self._failed, error=repr(exc))
            return
        yield from self._families(stats)

    def _families(self, stats: dict[str, object]) -> Iterator[Metric]:
        raise NotImplementedError


class PoolCollector(_ReadAtScrape):
    """The pool's state (`service.pool_stats()`), read at scrape time."""

    _failed = "pool_stats failed"

    def _families(self, stats: dict[str, object]) -> Iterator[Metric]:
        if not stats:
            return
        workers = GaugeMetricFamily("proofgate_pool_workers", "Workers by state.", labels=["state"])
        for key, state in _WORKER_STATES.items():
            value = stats.pop(key, None)
            if _is_number(value):
                workers.add_metric([state], float(value))
        if workers.samples:
            yield workers
        for key, help_text in _GAUGES.items():
            value = stats.pop(key, None)
            if _is_number(value):
                yield GaugeMetricFamily(f"proofgate_pool_{key}", help_text, value=float(value))
        for key, help_text in _COUNTERS.items():
            value = stats.pop(key, None)
            if _is_number(value):
                name = f"proofgate_pool_{key.removesuffix('_total')}"
                yield CounterMetricFamily(name, help_text, value=float(value))
        yield from _labelled(
            stats.pop("restarts", None),
            CounterMetricFamily(
                "proofgate_pool_worker_restarts", "Workers replaced, by cause.", labels=["cause"]
            ),
        )
        yield from _labelled(
            stats.pop("workers_by_header", None),
            GaugeMetricFamily(
                "proofgate_pool_workers_by_header", "Live workers by header.", labels=["header"]
            ),
        )
        for key, value in sorted(stats.items()):
            if _is_number(value):
                name = "proofgate_pool_" + _NAME.sub("_", str(key))
                yield GaugeMetricFamily(name, f"Pool statistic {key!r}.", value=float(value))


def _labelled(values: object, family: CounterMetricFamily | GaugeMetricFamily) -> Iterator[Metric]:
    if not isinstance(values, Mapping):
        return
    for label, count in sorted(values.items(), key=lambda item: str(item[0])):
        if _is_number(count):
            family.add_metric([str(label)], float(count))
    yield family


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Metrics:
    """The app's series. Requests are counted by route template, never by raw path; API key names
    appear only with `key_labels` (PROOFGATE_METRICS_KEY_LABELS); a computed verdict is a cache
    miss only with `cache_enabled` (PROOFGATE_CACHE_ENABLED)."""

    def __init__(
        self,
        pool_stats: PoolStatsReader | None = None,
        *,
        key_labels: bool = False,
        cache_enabled: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cache_enabled = cache_enabled
        self._clock = clock  # a test's stand-in clock makes check times exact
        self.registry = CollectorRegistry()
        self.requests = self._counter(
            "proofgate_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
        )
        self.request_seconds = self._histogram(
            "proofgate_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            _HTTP_BUCKETS,
        )
        self.verdicts = self._counter("proofgate_verdicts", "Verdicts by status.", ["status"])
        self.check_seconds = self._histogram(
            "proofgate_check_duration_seconds",
            "Time to a verdict, by status.",
            ["status"],
            _CHECK_BUCKETS,
        )
        self.cache_hits = self._counter(
            "proofgate_cache_hits", "Verdicts answered from the result cache."
        )
        self.cache_misses = self._counter(
            "proofgate_cache_misses", "Verdicts computed while the result cache was enabled."
        )
        self.auth_failures = self._counter(
            "proofgate_auth_failures",
            "Requests refused for their API key, by reason (missing, invalid, revoked, malformed).",
            ["reason"],
        )
        # A key's name is the operator's word for a customer: on a page anyone can read, only
        # with PROOFGATE_METRICS_KEY_LABELS=true; else the counts are summed over keys.
        self.key_labels = key_labels
        self.key_requests = self._counter(
            "proofgate_key_requests",
            "Requests admitted under an API key"
            + (", by key name." if key_labels else " (PROOFGATE_METRICS_KEY_LABELS: by key)."),
            ["key"] if key_labels else [],
        )
        self.quota_rejections = self._counter(
            "proofgate_quota_rejections",
            "Requests refused with 429 for a key over its quota, by "
            + (
                "key and limit." if key_labels else "limit (PROOFGATE_METRICS_KEY_LABELS: and key)."
            ),
            ["key", "limit"] if key_labels else ["limit"],
        )
        self.jobs_created = self._counter("proofgate_jobs_created", "Batch jobs accepted.")
        self.batch_items = self._counter(
            "proofgate_batch_items",
            "Batch items finished, by outcome (a verdict status, or `error`).",
            ["outcome"],
        )
        self.rewards = self._counter(
            "proofgate_rewards",
            "Reward records by environment and status (`no_proof` included).",
            ["environment", "status"],
        )
        self.reward_cheats = self._counter(
            "proofgate_reward_cheats",
            "Reward records naming a cheat, by environment and cheat class.",
            ["environment", "cheat"],
        )
        if pool_stats is not None:
            self.registry.register(PoolCollector(pool_stats))

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _histogram(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)

    def watch_jobs(self, read: Callable[[], Mapping[str, int]]) -> None:
        """Export the job runner's live numbers (`active_jobs`, `pending_items`, `in_flight`)."""
        self.registry.register(JobsCollector(read))

    def observe_auth_failure(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def observe_key_request(self, key: str) -> None:
        (self.key_requests.labels(key) if self.key_labels else self.key_requests).inc()

    def observe_quota_rejection(self, key: str, limit: str) -> None:
        labels = (key, limit) if self.key_labels else (limit,)
        self.quota_rejections.labels(*labels).inc()

    def observe_job_created(self) -> None:
        self.jobs_created.inc()

    def observe_batch_item(self, outcome: str) -> None:
        self.batch_items.labels(outcome).inc()

    def observe_reward(self, environment: str, status: str, cheat: str | None) -> None:
        self.rewards.labels(environment, status).inc()
        if cheat is not None:
            self.reward_cheats.labels(environment, cheat).inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_verdict(self, verdict: Verdict, seconds: float) -> None:
        """Count a verdict and the `seconds` its check took (the reward routes' `on_verdict`)."""
        status = verdict.status.value
        self.verdicts.labels(status).inc()
        self.check_seconds.labels(status).observe(seconds)
        if verdict.cached:
            self.cache_hits.inc()
        elif self.cache_enabled:
            self.cache_misses.inc()

    async def timed(self, check: Awaitable[Verdict]) -> Verdict:
        """Await one check (a coroutine not yet started), count its verdict and the time it took
        (`timed_with`'s rule), and return the verdict."""

        async def alone() -> tuple[Verdict, None]:
            return await check, None

        verdict, _ = await self.timed_with(alone())
        return verdict

    async def timed_with(self, check: Awaitable[tuple[Verdict, Extra]]) -> tuple[Verdict, Extra]:
        """Await one check answering a verdict and more (its steps, its info tree), count the
        verdict and the time the check took, and return both. A check that raises (busy, not
        ready) is not counted: a caller that retries counts the attempt that answered, not the
        waits before it."""
        began = self._clock()
        verdict, extra = await check
        self.observe_verdict(verdict, self._clock() - began)
        return verdict, extra

    def render(self) -> bytes:
        return generate_latest(self.registry)


class JobsCollector(_ReadAtScrape):
    """The job runner's gauges, read at scrape time."""

    _HELP: ClassVar[dict[str, str]] = {
        "active_jobs": "Batch jobs queued or running in this process.",
        "pending_items": "Batch items not yet finished, in active jobs.",
        "in_flight": "Batch items being checked now.",
    }
    _failed = "job stats failed"

    def _families(self, stats: dict[str, object]) -> Iterator[Metric]:
        for key, help_text in self._HELP.items():
            value = stats.get(key)
            if _is_number(value):
                name = "proofgate_batch_" + key
                yield GaugeMetricFamily(name, help_text, value=float(value))


def pool_stats_of(state: object) -> PoolStatsReader:
    """A reader of `state.service.pool_stats()` (resolved at scrape time; None if absent)."""

    def read() -> object:
        service = getattr(state, "service", None)
        reader = getattr(service, "pool_stats", None)
        return reader() if callable(reader) else None

    return read


router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    return Response(collected.render(), media_type=CONTENT_TYPE_LATEST)
