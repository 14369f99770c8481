"""The routes the web console reads, over HTTP without a browser (tests/console has the browser):
`GET /v1/jobs` (the caller's own, newest first, paged), one job item, a job's failure report,
shares (`POST /v1/shares`, the open `/r/<id>` views), and which console paths the key guard lets
through."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.store.keys import KeyStore
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.waiting import until

STATEMENT = "theorem t : 1 = 1 := by sorry"


@dataclass
class KeyedServer:
    http: httpx.Client
    first: dict[str, str]
    second: dict[str, str]


@pytest.fixture
def keyed(settings: Settings) -> Iterator[KeyedServer]:
    """The app with two keys; requests without a key are served too (as the tenant anonymous)."""
    assert settings.api_keys_file is not None
    keys = KeyStore(settings.api_keys_file)
    first, second = (keys.create(name)[1] for name in ("first", "second"))
    opened = settings.model_copy(update={"allow_unauthenticated": True})
    with run_app(create_app(opened, service=FakeServiceWithPool())) as url:  # type: ignore[arg-type]
        with httpx.Client(base_url=url, timeout=10.0) as http:
            yield KeyedServer(
                http,
                {"Authorization": f"Bearer {first}"},
                {"Authorization": f"Bearer {second}"},
            )


def _batch(server: KeyedServer, headers: dict[str, str], *proofs: str) -> str:
    items = [{"id": f"p{i}", "statement": STATEMENT, "proof": p} for i, p in enumerate(proofs)]
    made = server.http.post("/v1/batch", json={"items": items}, headers=headers)
    assert made.status_code == 202, made.text
    job = str(made.json()["id"])
    assert until(
        lambda: server.http.get(f"/v1/jobs/{job}", headers=headers).json()["status"] == "completed"
    )
    return job


def _listed(server: KeyedServer, headers: dict[str, str], query: str = "") -> dict[str, object]:
    answer = server.http.get(f"/v1/jobs{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_jobs_are_listed_to_their_own_key_only_newest_first_and_paged(keyed: KeyedServer) -> None:
    mine = []
    for _ in range(3):
        mine.append(_batch(keyed, keyed.first, "by rfl"))
        time.sleep(0.002)  # distinct creation times, so "newest first" has one answer
    theirs = _batch(keyed, keyed.second, "by rfl")
    anonymous = _batch(keyed, {}, "by rfl")

    page = _listed(keyed, keyed.first, "?limit=2")
    assert [job["id"] for job in page["jobs"]] == mine[:0:-1]  # type: ignore[index, union-attr]
    assert page["next_offset"] == 2
    rest = _listed(keyed, keyed.first, "?limit=2&offset=2")
    assert [job["id"] for job in rest["jobs"]] == [mine[0]]  # type: ignore[index, union-attr]
    assert rest["next_offset"] is None
    assert [job["id"] for job in _listed(keyed, keyed.second)["jobs"]] == [theirs]  # type: ignore[index, union-attr]
    assert [job["id"] for job in _listed(keyed, {})["jobs"]] == [anonymous]  # type: ignore[index, union-attr]
    for path in (f"/v1/jobs/{mine[0]}/items/0", f"/v1/jobs/{mine[0]}/failures"):
        assert keyed.http.get(path, headers=keyed.second).status_code == 404
        assert keyed.http.get(path).status_code == 404
        assert keyed.http.get(path, headers=keyed.first).status_code == 200


def test_an_item_and_the_failure_report_of_a_job(keyed: KeyedServer) -> None:
    job = _batch(keyed, keyed.first, "by rfl", "by\n#exit", "by sorry")
    item = keyed.http.get(f"/v1/jobs/{job}/items/1", headers=keyed.first).json()
    assert item["id"] == "p1"
    assert item["submission"] == {
        **item["submission"],
        "statement": STATEMENT,
        "proof": "by\n#exit",
    }
    assert item["result"]["verdict"]["status"] == "rejected"
    missing = keyed.http.get(f"/v1/jobs/{job}/items/3", headers=keyed.first)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert f"no job '{job}/items/3'" in missing.json()["message"]

    report = keyed.http.get(f"/v1/jobs/{job}/failures", headers=keyed.first).json()
    assert report["total"] == 3
    assert report["outcomes"] == {"proved": 1, "rejected": 1, "incomplete": 1}
    assert report["cheats"]["policy rules"] == {"exit": 1}
    assert report["cheats_caught"] == 2  # the refusal and the sorry


def test_a_share_is_signed_open_to_read_and_holds_only_the_record(keyed: KeyedServer) -> None:
    submission = {"statement": STATEMENT, "proof": "by rfl"}
    made = keyed.http.post("/v1/shares", json={"submission": submission}, headers=keyed.first)
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["status"] == "proved" and len(created["id"]) == 32
    with httpx.Client(base_url=str(keyed.http.base_url), timeout=10.0) as stranger:  # no key
        page = stranger.get(created["url"])
        assert page.status_code == 200 and "share.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        shared = stranger.get(created["record_url"]).json()
        assert shared["signature"] == "valid"
        assert shared["record"]["submission"]["proof"] == "by rfl"
        assert shared["record"]["verdict"]["status"] == "proved"
        text = json.dumps(shared)
        assert "first" not in text and "key-" not in text  # no key name, no tenant
        markdown = stranger.get(created["markdown_url"])
        assert markdown.status_code == 200 and "proofgate-record" in markdown.text
        assert stranger.get(f"/r/{'A' * 32}/record.json").status_code == 404
        assert stranger.get("/r/short/record.json").status_code == 422
        assert stranger.get("/r/..%2F..%2Fkeys/record.json").status_code in (404, 422)


def test_a_check_that_did_not_finish_is_not_shared(keyed: KeyedServer) -> None:
    answer = keyed.http.post(
        "/v1/shares", json={"submission": {"statement": STATEMENT, "proof": "by hang"}}
    )
    assert answer.status_code == 409
    assert "did not finish" in answer.json()["message"]


def test_the_guard_opens_the_console_and_docs_and_guards_the_api(settings: Settings) -> None:
    assert settings.api_keys_file is not None
    KeyStore(settings.api_keys_file).create("only")
    with run_app(create_app(settings, service=FakeServiceWithPool())) as url:  # type: ignore[arg-type]
        for path in (
            "/",
            "/console/console.css",
            "/console/js/app.js",
            "/docs",
            "/redoc",
            "/static-offline-docs/swagger-ui-bundle.js",
            "/static-offline-docs/redoc.standalone.js",
            f"/r/{'A' * 32}",
        ):
            assert httpx.get(url + path).status_code == 200, path
        for path in ("/v1/jobs", "/v1/environments"):
            assert httpx.get(url + path).status_code == 401, path
        submission = {"submission": {"code": "theorem t : 1 = 1 := rfl"}}
        assert httpx.post(url + "/v1/shares", json=submission).status_code == 401
        docs = httpx.get(url + "/docs").text
        assert "cdn" not in docs.lower() and "/static-offline-docs/swagger-ui-bundle.js" in docs


def test_the_docs_pages_ask_for_the_schema_and_their_files_under_the_root_path() -> None:
    """Behind a proxy's prefix (the app's root path), both docs pages ask for the schema, their
    own files and Swagger's OAuth redirect under it, and carry the docs' CSP."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from proofgate.api import console

    app = FastAPI(title="pg", docs_url=None, redoc_url=None)
    app.include_router(console.router)
    with TestClient(app, root_path="/prefix") as client:
        swagger, redoc = client.get("/docs"), client.get("/redoc")
    assets = "/prefix/static-offline-docs/"
    for page, title, files in (
        (swagger, "pg - Swagger UI", ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")),
        (redoc, "pg - ReDoc", ("redoc.standalone.js", "favicon.png")),
    ):
        assert page.status_code == 200
        assert f"<title>{title}</title>" in page.text
        assert "'/prefix/openapi.json'" in page.text or '"/prefix/openapi.json"' in page.text
        assert all(assets + name in page.text for name in files), page.text
        assert "'unsafe-inline'" in page.headers["content-security-policy"]
    assert "/prefix/docs/oauth2-redirect" in swagger.text
