"""API keys and quotas over HTTP: real uvicorn on loopback, a fake service behind the app.

401 (missing or invalid key, with WWW-Authenticate), 403 (revoked), 429 with Retry-After (over
rate or concurrency), 200 otherwise; probes, metrics and docs stay open; with no key configured
only loopback clients are served.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.client import Client, RetryPolicy
from proofgate.config import Settings
from proofgate.exceptions import ClientError
from proofgate.store.keys import KeyStore
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.waiting import until

CHECK = {"code": "theorem t : 1 = 1 := rfl"}


@dataclass
class Served:
    url: str
    keys: KeyStore
    service: FakeServiceWithPool


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    service = FakeServiceWithPool()
    assert settings.api_keys_file is not None
    keys = KeyStore(settings.api_keys_file)
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        yield Served(url, keys, service)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_keys_loopback_clients_are_served(served: Served) -> None:
    assert httpx.post(served.url + "/v1/check", json=CHECK).status_code == 200
    assert httpx.get(served.url + "/v1/environments").status_code == 200


def test_with_keys_a_missing_or_invalid_key_is_401(served: Served) -> None:
    _, token = served.keys.create("ci")
    missing = httpx.post(served.url + "/v1/check", json=CHECK)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert (
        missing.json()["error"] == "unauthorized"
        and "Authorization: Bearer" in missing.json()["message"]
    )
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    wrong = httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token[:-2] + "xx"))
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic = httpx.post(
        served.url + "/v1/check", json=CHECK, headers={"Authorization": "Basic eDp5"}
    )
    assert basic.status_code == 401
    assert not served.service.seen  # nothing reached the service


def test_a_valid_key_works_as_bearer_or_x_api_key(served: Served) -> None:
    _, token = served.keys.create("ci")
    assert (
        httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token)).status_code == 200
    )
    assert (
        httpx.post(served.url + "/v1/check", json=CHECK, headers={"X-API-Key": token}).status_code
        == 200
    )
    with Client(served.url, api_key=token) as client:
        assert client.check(code="theorem t : 1 = 1 := rfl").ok


def test_a_key_revoked_while_serving_is_403(served: Served) -> None:
    _, token = served.keys.create("leaky")
    served.keys.create("other")
    assert httpx.get(served.url + "/v1/environments", headers=bearer(token)).status_code == 200
    served.keys.revoke("leaky")
    refused = httpx.get(served.url + "/v1/environments", headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert "leaky" in refused.json()["message"]


def test_probes_metrics_and_docs_stay_open(served: Served) -> None:
    served.keys.create("ci")
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert httpx.get(served.url + path).status_code == 200, path
    assert httpx.get(served.url + "/v1/environments").status_code == 401
    metrics = httpx.get(served.url + "/metrics").text
    assert 'proofgate_auth_failures_total{reason="missing"} 1.0' in metrics


def test_over_the_rate_is_429_with_retry_after(served: Served) -> None:
    _, token = served.keys.create("slow", rate_per_minute=2)
    _, other = served.keys.create("free")
    codes = [
        httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token)).status_code
        for _ in range(2)
    ]
    assert codes == [200, 200]
    over = httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token))
    assert over.status_code == 429 and over.json()["error"] == "rate_limited"
    assert 1 <= int(over.headers["retry-after"]) <= 30
    assert "2 submissions a minute" in over.json()["message"]
    # one key's quota is its own
    assert (
        httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(other)).status_code == 200
    )
    with (
        Client(served.url, api_key=token, retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(ClientError) as info,
    ):
        client.check(code="theorem t : 1 = 1 := rfl")
    assert info.value.status_code == 429
    metrics = httpx.get(served.url + "/metrics").text
    assert 'proofgate_quota_rejections_total{limit="rate"} 2.0' in metrics  # no key's name


@pytest.mark.parametrize("labelled", [False, True])
def test_metrics_name_keys_only_when_the_setting_says(settings: Settings, labelled: bool) -> None:
    settings = settings.model_copy(update={"metrics_key_labels": labelled})
    assert settings.api_keys_file is not None
    keys = KeyStore(settings.api_keys_file)
    _, token = keys.create("acme-research", rate_per_minute=1)
    app = create_app(settings, service=FakeServiceWithPool())  # type: ignore[arg-type]
    with run_app(app) as url:
        codes = [
            httpx.post(url + "/v1/check", json=CHECK, headers=bearer(token)).status_code
            for _ in range(2)
        ]
        metrics = httpx.get(url + "/metrics").text
    assert codes == [200, 429]  # a request was admitted under the key, and one refused
    if labelled:
        assert 'proofgate_key_requests_total{key="acme-research"} 1.0' in metrics
        assert 'proofgate_quota_rejections_total{key="acme-research",limit="rate"} 1.0' in metrics
    else:
        assert "acme-research" not in metrics
        assert "proofgate_key_requests_total 1.0" in metrics
        assert 'proofgate_quota_rejections_total{limit="rate"} 1.0' in metrics


def test_a_batch_is_charged_per_submission(served: Served) -> None:
    _, token = served.keys.create("batcher", rate_per_minute=5)
    items = [{"code": f"theorem t{i} : 1 = 1 := rfl"} for i in range(8)]
    created = httpx.post(served.url + "/v1/batch", json={"items": items}, headers=bearer(token))
    assert created.status_code == 202
    after = httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token))
    assert after.status_code == 429 and int(after.headers["retry-after"]) >= 30


def test_over_the_concurrency_limit_is_429(served: Served) -> None:
    _, token = served.keys.create("one", concurrency=1)
    served.service.gate = gate = threading.Event()  # the first check stays in until opened
    first: list[int] = []
    holder = threading.Thread(
        target=lambda: first.append(
            httpx.post(
                served.url + "/v1/check", json=CHECK, headers=bearer(token), timeout=90
            ).status_code
        )
    )
    holder.start()
    try:
        assert until(lambda: served.service.inside == 1)  # the first request is being served
        second = httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token))
    finally:
        gate.set()
        holder.join(90)
    assert first == [200]
    assert second.status_code == 429 and second.json()["error"] == "too_many_requests"
    assert second.headers["retry-after"] == "1"
    assert served.service.most_inside == 1  # the second never reached the backend
    served.service.gate = None
    assert (
        httpx.post(served.url + "/v1/check", json=CHECK, headers=bearer(token)).status_code == 200
    )


def test_jobs_are_visible_only_to_the_key_that_made_them(served: Served) -> None:
    _, mine = served.keys.create("mine")
    _, theirs = served.keys.create("theirs")
    job = httpx.post(
        served.url + "/v1/batch", json={"items": [CHECK]}, headers=bearer(mine)
    ).json()["id"]
    assert httpx.get(f"{served.url}/v1/jobs/{job}", headers=bearer(mine)).status_code == 200
    assert httpx.get(f"{served.url}/v1/jobs/{job}", headers=bearer(theirs)).status_code == 404
    results = httpx.get(f"{served.url}/v1/jobs/{job}/results", headers=bearer(theirs))
    assert results.status_code == 404


async def _call_as(app: object, client: tuple[str, int], path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://proofgate") as http:
        return await http.get(path)


def test_without_keys_a_remote_client_is_refused(settings: Settings) -> None:
    app = create_app(settings, service=FakeServiceWithPool())  # type: ignore[arg-type]
    app.state.service = FakeServiceWithPool()  # no lifespan over this transport
    remote = asyncio.run(_call_as(app, ("203.0.113.9", 5000), "/v1/environments"))
    assert remote.status_code == 401 and "loopback clients only" in remote.json()["message"]
    local = asyncio.run(_call_as(app, ("::1", 5000), "/v1/environments"))
    assert local.status_code == 200
    mapped = asyncio.run(_call_as(app, ("::ffff:127.0.0.1", 5000), "/v1/environments"))
    assert mapped.status_code == 200
    assert asyncio.run(_call_as(app, ("203.0.113.9", 5000), "/healthz")).status_code == 200


def test_allow_unauthenticated_serves_remote_clients_without_keys(settings: Settings) -> None:
    opened = settings.model_copy(update={"allow_unauthenticated": True})
    app = create_app(opened, service=FakeServiceWithPool())  # type: ignore[arg-type]
    app.state.service = FakeServiceWithPool()
    remote = asyncio.run(_call_as(app, ("203.0.113.9", 5000), "/v1/environments"))
    assert remote.status_code == 200


def test_an_unreadable_keys_file_is_503_not_open_access(settings: Settings, tmp_path: Path) -> None:
    assert settings.api_keys_file is not None
    settings.api_keys_file.parent.mkdir(parents=True, exist_ok=True)
    settings.api_keys_file.write_text("{broken")
    app = create_app(settings, service=FakeServiceWithPool())  # type: ignore[arg-type]
    app.state.service = FakeServiceWithPool()
    answer = asyncio.run(_call_as(app, ("127.0.0.1", 5000), "/v1/environments"))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
