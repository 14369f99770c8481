"""Prometheus metrics: `/metrics`, one registry per app, pool numbers read at scrape time.

The pool's numbers come from `service.pool_stats()` when the service has it, a mapping with any of:
`queue_depth` (int), `busy` and `idle` (workers, int), `restarts` (cause -> count); any other
numeric entry is exported as a `proofgate_pool_<name>` gauge. Without it the pool series are absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

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

__all__ = ["Metrics", "PoolCollector", "router"]

PoolStats = Callable[[], "Mapping[str, object] | None"]

_log = get_logger("proofgate.metrics")
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_CHECK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
_NAME = re.compile(r"[^a-zA-Z0-9_]")


class PoolCollector(Collector):
    """Reads the pool's state when Prometheus scrapes; a failing read omits the series."""

    def __init__(self, read: PoolStats) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []  # unknown until scraped; keeps registration from calling the service

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._read()
        except Exception as exc:  # the service's problem must not break a scrape
            _log.warning("pool_stats failed", error=repr(exc))
            return
        if not stats:
            return
        stats = dict(stats)
        queue = stats.pop("queue_depth", None)
        if _is_number(queue):
            yield GaugeMetricFamily(
                "proofgate_pool_queue_depth", "Requests waiting for a worker.", value=float(queue)
            )
        workers = GaugeMetricFamily("proofgate_pool_workers", "Workers by state.", labels=["state"])
        for state in ("busy", "idle"):
            value = stats.pop(state, None)
            if _is_number(value):
                workers.add_metric([state], float(value))
        if workers.samples:
            yield workers
        restarts = stats.pop("restarts", None)
        if isinstance(restarts, Mapping):
            family = CounterMetricFamily(
                "proofgate_pool_worker_restarts", "Workers replaced, by cause.", labels=["cause"]
            )
            for cause, count in sorted(restarts.items()):
                if _is_number(count):
                    family.add_metric([str(cause)], float(count))
            yield family
        for key, value in sorted(stats.items()):
            if _is_number(value):
                name = "proofgate_pool_" + _NAME.sub("_", str(key))
                yield GaugeMetricFamily(name, f"Pool statistic {key!r}.", value=float(value))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Metrics:
    """The app's series. Requests are counted by route template, never by raw path."""

    def __init__(self, pool_stats: PoolStats | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "proofgate_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "proofgate_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            "proofgate_verdicts", "Verdicts by status.", ["status"], registry=self.registry
        )
        self.check_seconds = Histogram(
            "proofgate_check_duration_seconds",
            "Time to a verdict, by status.",
            ["status"],
            buckets=_CHECK_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "proofgate_cache_hits",
            "Verdicts answered from the result cache.",
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "proofgate_cache_misses",
            "Verdicts computed while the result cache was enabled.",
            registry=self.registry,
        )
        if pool_stats is not None:
            self.registry.register(PoolCollector(pool_stats))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_verdict(self, verdict: Verdict, seconds: float, *, cache_enabled: bool) -> None:
        status = verdict.status.value
        self.verdicts.labels(status).inc()
        self.check_seconds.labels(status).observe(seconds)
        if verdict.cached:
            self.cache_hits.inc()
        elif cache_enabled:
            self.cache_misses.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def pool_stats_of(state: object) -> PoolStats:
    """A reader of `state.service.pool_stats()` (resolved at scrape time; None if absent)."""

    def read() -> Mapping[str, object] | None:
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
