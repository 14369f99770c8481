"""`/readyz` reports sandbox, live pool state and a store file changed under the app; `/healthz`
stays trivial."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import Settings
from tests.api.conftest import LiveApp, serve_stack
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.stack import Stack


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


def _replace(path: Path) -> None:
    other = path.with_name("other.sqlite3")
    sqlite3.connect(other).close()
    os.replace(other, path)


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_a_store_file_changed_under_the_app_is_503_and_refuses_writes(
    stack: Stack, change: str
) -> None:
    path = stack.settings.cache_path
    with serve_stack(stack) as url:
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        first = httpx.post(url + "/v1/check", json={"code": "#exit"}, timeout=30)
        assert first.status_code == 200 and first.json()["status"] == "rejected"
        inode = path.stat().st_ino
        if change == "deleted":
            path.unlink()
        else:
            _replace(path)
        assert not path.exists() or path.stat().st_ino != inode  # the file did change

        ready = httpx.get(url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.headers["retry-after"]
        reason = f"the store file {path} was {change}"
        assert any(reason in line for line in ready.json()["reasons"]), ready.json()

        batch = httpx.post(url + "/v1/batch", json={"items": [{"code": "#exit 2"}]}, timeout=30)
        assert batch.status_code == 503, batch.text
        assert batch.json()["error"] == "store_unavailable" and reason in batch.json()["message"]
        check = httpx.post(url + "/v1/check", json={"code": "#exit 3"}, timeout=30)
        assert check.status_code == 503 and reason in check.json()["message"]
    if change == "replaced":  # nothing was written into the file that took its place
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
