"""A batch job made under an API key runs to the end: the runner reads the key's concurrency
limit from the keys file (a regression: it once iterated the KeyStore itself, a TypeError that
left every such job `queued`)."""

from __future__ import annotations

import httpx

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.store.keys import KeyStore
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.waiting import until


def test_a_batch_job_under_a_key_with_a_concurrency_limit_completes(settings: Settings) -> None:
    assert settings.api_keys_file is not None
    _, token = KeyStore(settings.api_keys_file).create("batcher", concurrency=1)
    headers = {"Authorization": f"Bearer {token}"}
    items = [{"code": f"theorem t{i} : 1 = 1 := rfl"} for i in range(3)]
    service = FakeServiceWithPool()
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        created = httpx.post(url + "/v1/batch", json={"items": items}, headers=headers)
        assert created.status_code == 202
        job = created.json()["id"]

        def status() -> str:
            answer = httpx.get(f"{url}/v1/jobs/{job}", headers=headers)
            return str(answer.json()["status"])

        assert until(lambda: status() == "completed"), status()
        assert service.most_inside == 1  # the key's limit held: one check at a time
