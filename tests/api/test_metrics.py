"""`/metrics`: request, verdict, latency, cache and pool series, over real uvicorn."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.api.metrics import Metrics, PoolCollector
from proofgate.config import Settings
from proofgate.models import Verdict, VerdictStatus
from tests.api.conftest import LiveApp
from tests.support.fake_service import FakeCheckerService
from tests.support.live_app import run_app


def _sample(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_requests_verdicts_and_latency_are_counted(live: LiveApp) -> None:
    live.http.post("/v1/check", json={"code": "theorem a : True := trivial"})
    live.http.post("/v1/check", json={"code": "#exit"})
    live.http.post("/v1/check", json={"code": "#exit again"})
    live.http.post("/v1/check", json={"code": 1})
    live.http.get("/nowhere/at/all")
    text = live.http.get("/metrics").text
    route = 'method="POST",route="/v1/check",status="200"'
    assert _sample(text, "proofgate_http_requests_total", route) == 3
    assert (
        _sample(
            text, "proofgate_http_requests_total", 'method="POST",route="/v1/check",status="422"'
        )
        == 1
    )
    assert (
        _sample(
            text, "proofgate_http_requests_total", 'method="GET",route="unmatched",status="404"'
        )
        == 1
    )
    assert "/nowhere" not in text  # raw paths never become labels
    assert _sample(text, "proofgate_verdicts_total", 'status="rejected"') == 2
    assert _sample(text, "proofgate_verdicts_total", 'status="compiled"') == 1
    assert _sample(text, "proofgate_check_duration_seconds_count", 'status="rejected"') == 2
    assert _sample(text, "proofgate_http_request_duration_seconds_count", 'route="/v1/check"') == 4
    assert _sample(text, "proofgate_cache_misses_total") == 3
    assert _sample(text, "proofgate_cache_hits_total") == 0


def test_pool_numbers_are_read_at_scrape_time(live: LiveApp) -> None:
    text = live.http.get("/metrics").text
    assert _sample(text, "proofgate_pool_queue_depth") == 3
    assert _sample(text, "proofgate_pool_workers", 'state="busy"') == 2
    assert _sample(text, "proofgate_pool_workers", 'state="idle"') == 1
    assert _sample(text, "proofgate_pool_worker_restarts_total", 'cause="timeout"') == 4
    assert _sample(text, "proofgate_pool_warm_headers") == 2
    live.service.stats = {"queue_depth": 0, "busy": 0, "idle": 3}  # type: ignore[attr-defined]
    text = live.http.get("/metrics").text
    assert _sample(text, "proofgate_pool_queue_depth") == 0
    assert _sample(text, "proofgate_pool_workers", 'state="idle"') == 3
    assert "proofgate_pool_worker_restarts" not in text


def test_without_pool_stats_the_pool_series_are_absent(settings: Settings) -> None:
    with run_app(create_app(settings, service=FakeCheckerService())) as url:  # type: ignore[arg-type]
        response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "proofgate_http_requests" in response.text
    assert "proofgate_pool_" not in response.text


def test_a_failing_pool_read_omits_the_series_and_keeps_the_rest() -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("pool gone")

    metrics = Metrics(pool_stats=broken)
    metrics.observe_request("/v1/check", "POST", 200, 0.1)
    text = metrics.render().decode()
    assert "proofgate_http_requests_total" in text and "proofgate_pool_" not in text


def test_the_job_gauges_are_read_at_scrape_time_and_a_failing_read_omits_them() -> None:
    stats: dict[str, int] = {"active_jobs": 2, "pending_items": 7, "in_flight": 3}
    metrics = Metrics(pool_stats=lambda: {"queue_depth": 1})
    metrics.watch_jobs(lambda: stats)
    stats["pending_items"] = 5  # after registration: the scrape reads it anew
    text = metrics.render().decode()
    assert _sample(text, "proofgate_batch_pending_items") == 5
    assert _sample(text, "proofgate_batch_active_jobs") == 2

    def broken() -> dict[str, int]:
        raise RuntimeError("runner gone")

    failing = Metrics(pool_stats=lambda: {"queue_depth": 1})
    failing.watch_jobs(broken)
    text = failing.render().decode()
    assert "proofgate_batch_active_jobs" not in text
    assert _sample(text, "proofgate_pool_queue_depth") == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_cache_hits_and_misses(enabled: bool) -> None:
    metrics = Metrics(cache_enabled=enabled)
    verdict = Verdict(status=VerdictStatus.proved, kind="check")
    metrics.observe_verdict(verdict, 0.1)
    metrics.observe_verdict(verdict.model_copy(update={"cached": True}), 0.001)
    text = metrics.render().decode()
    assert _sample(text, "proofgate_cache_hits_total") == 1
    assert _sample(text, "proofgate_cache_misses_total") == (1 if enabled else 0)


def test_pool_collector_ignores_non_numbers() -> None:
    collector = PoolCollector(
        lambda: {"busy": True, "idle": "x", "queue_depth": None, "note": "hi"}
    )
    assert list(collector.collect()) == []


@dataclass
class _PoolStatsShape:
    """The shape of `proofgate.lean.pool.PoolStats` (a dataclass), as the pool reports it."""

    queue_depth: int = 1
    in_flight: int = 3
    busy_workers: int = 2
    idle_workers: int = 0
    starting_workers: int = 1
    max_busy: int = 2
    requests: int = 40
    retries: int = 1
    tenants: int = 3
    tenant_starts: int = 5
    import_seconds_total: float = 12.5
    restarts: dict[str, int] = field(default_factory=lambda: {"recycled": 3, "timeout": 2})
    workers_by_header: dict[str, int] = field(default_factory=lambda: {"default:import Mathlib": 2})
    recent_check_seconds: list[float] = field(default_factory=lambda: [0.1, 0.2])


def test_a_pool_stats_dataclass_is_exported_with_counters_and_labels() -> None:
    text = Metrics(pool_stats=_PoolStatsShape).render().decode()
    assert _sample(text, "proofgate_pool_workers", 'state="busy"') == 2
    assert _sample(text, "proofgate_pool_workers", 'state="starting"') == 1
    assert _sample(text, "proofgate_pool_in_flight") == 3
    assert _sample(text, "proofgate_pool_requests_total") == 40
    assert _sample(text, "proofgate_pool_import_seconds_total") == 12.5
    assert _sample(text, "proofgate_pool_worker_restarts_total", 'cause="recycled"') == 3
    assert _sample(text, "proofgate_pool_workers_by_header", 'header="default:import Mathlib"') == 2
    assert "recent_check_seconds" not in text
    assert "# TYPE proofgate_pool_requests_total counter" in text
    assert _sample(text, "proofgate_pool_tenants") == 3
    assert _sample(text, "proofgate_pool_tenant_starts_total") == 5
    assert "# TYPE proofgate_pool_tenant_starts_total counter" in text


def test_readyz_shows_a_dataclass_pool(settings: Settings) -> None:
    class DataclassPool(FakeCheckerService):
        def pool_stats(self) -> _PoolStatsShape:
            return _PoolStatsShape()

    with run_app(create_app(settings, service=DataclassPool())) as url:  # type: ignore[arg-type]
        pool = httpx.get(url + "/readyz").json()["pool"]
    assert pool["busy_workers"] == 2 and pool["restarts"] == {"recycled": 3, "timeout": 2}
