"""`/readyz` reports sandbox and live pool state; `/healthz` stays trivial."""

from __future__ import annotations

import httpx

from proofgate.api.app import create_app
from proofgate.config import Settings
from tests.api.conftest import LiveApp
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app


def test_ready_service_reports_sandbox_and_live_pool(live: LiveApp) -> None:
    response = live.http.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["sandbox"] == "bwrap"
    assert body["pool"]["workers"] == 2  # from the readiness snapshot
    assert body["pool"]["busy"] == 2 and body["pool"]["restarts"]["timeout"] == 4  # live


def test_unready_service_is_503_with_reasons(settings: Settings) -> None:
    service = FakeServiceWithPool(
        ready=False, reasons=["sandbox: bwrap not found: apt-get install bubblewrap"]
    )
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        response = httpx.get(url + "/readyz")
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "bubblewrap" in response.json()["reasons"][0]


def test_a_failing_pool_read_is_reported_not_raised(settings: Settings) -> None:
    class BrokenPool(FakeServiceWithPool):
        def pool_stats(self) -> dict[str, object]:
            raise RuntimeError("pool supervisor died")

    with run_app(create_app(settings, service=BrokenPool())) as url:  # type: ignore[arg-type]
        response = httpx.get(url + "/readyz")
    assert response.status_code == 200
    assert "pool supervisor died" in response.json()["pool"]["error"]
