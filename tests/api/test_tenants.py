"""Tenants over HTTP (issue 23): each API key is a tenant of its own, named by a digest of its
token hash (never its name); keyless requests are `anonymous`; a job belongs to its tenant; one
tenant's own full share is 429, the service's 503. Real uvicorn on loopback, a fake service."""

from __future__ import annotations

import httpx

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.exceptions import Busy, TenantBusy
from proofgate.models.tenant import ANONYMOUS, key_tenant
from proofgate.store.keys import KeyStore
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.waiting import until

CHECK = {"code": "theorem t : 1 = 1 := rfl"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_each_key_checks_as_its_own_tenant_and_no_key_as_anonymous(settings: Settings) -> None:
    service = FakeServiceWithPool()
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        assert httpx.post(url + "/v1/check", json=CHECK).status_code == 200  # no key yet
        assert settings.api_keys_file is not None
        keys = KeyStore(settings.api_keys_file)
        first, first_token = keys.create("alice")
        second, second_token = keys.create("bob")
        for token in (first_token, second_token):
            answer = httpx.post(url + "/v1/check", json=CHECK, headers=bearer(token))
            assert answer.status_code == 200
    expected = [key_tenant(first.token_sha256), key_tenant(second.token_sha256)]
    assert service.tenants == [ANONYMOUS, *expected]
    assert expected[0] != expected[1] and all(t.startswith("key-") for t in expected)
    assert not any("alice" in t or "bob" in t or first.token_sha256 in t for t in expected)


def test_a_job_belongs_to_its_tenant(settings: Settings) -> None:
    assert settings.api_keys_file is not None
    keys = KeyStore(settings.api_keys_file)
    owner, owner_token = keys.create("owner")
    _, other_token = keys.create("other")
    service = FakeServiceWithPool()
    items = [{"code": f"theorem t{i} : 1 = 1 := rfl"} for i in range(2)]
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        created = httpx.post(url + "/v1/batch", json={"items": items}, headers=bearer(owner_token))
        assert created.status_code == 202
        job = created.json()["id"]

        def status() -> object:
            return httpx.get(f"{url}/v1/jobs/{job}", headers=bearer(owner_token)).json()["status"]

        assert until(lambda: status() == "completed"), status()
        for path in (f"/v1/jobs/{job}", f"/v1/jobs/{job}/results"):
            assert httpx.get(url + path, headers=bearer(other_token)).status_code == 404
    assert service.tenants == [key_tenant(owner.token_sha256)] * 2


def test_a_tenants_own_full_share_is_429_and_the_whole_service_503(settings: Settings) -> None:
    service = FakeServiceWithPool(raises=TenantBusy("3 requests of this API key wait"))
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        mine = httpx.post(url + "/v1/check", json=CHECK)
        service.raises = Busy("256 requests already queued")
        everyone = httpx.post(url + "/v1/check", json=CHECK)
    assert mine.status_code == 429 and mine.json()["error"] == "too_many_requests"
    assert int(mine.headers["retry-after"]) >= 1 and "this API key" in mine.json()["message"]
    assert everyone.status_code == 503 and everyone.json()["error"] == "busy"
