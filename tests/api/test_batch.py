"""`POST /v1/batch` and `/v1/jobs/...` under real uvicorn on loopback, on the stand-in stack.

Behind the app: the real pool driving the simulated REPL, the real auditor driving the stand-in
checker, the real SQLite store (tests/support/stack.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from proofgate.client import AsyncClient, Client
from proofgate.models import Verdict, VerdictStatus
from proofgate.models.jobs import ItemError
from tests.api.conftest import serve_stack
from tests.support.stack import Stack, make_stack

HONEST = "import Mathlib\n\ntheorem t{i} (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
BROKEN = "import Mathlib\n\ntheorem t{i} : 1 = 1 := by\n  -- standin: error unknown identifier 'foo'\n  exact foo\n"
SLOW = (
    "import Mathlib\n\ntheorem s{i} : 1 = 1 := by\n  -- standin: sleep 0.25\n"
    "  -- standin: error unknown identifier 'foo'\n  exact foo\n"
)
REFUSED = "import Mathlib\n#exit\n-- {i}\n"


def mixed_items(count: int) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """A realistic mix, and what each index must come back as."""
    items: list[dict[str, Any]] = []
    expected: dict[int, str] = {}
    for i in range(count):
        if i % 10 == 0:
            items.append({"id": f"h{i}", "code": HONEST.format(i=i)})
            expected[i] = "compiled"
        elif i % 37 == 0:
            items.append({"id": f"bad{i}", "code": 5})
            expected[i] = "error"
        elif i % 13 == 0:
            items.append({"code": REFUSED.format(i=i)})
            expected[i] = "rejected"
        else:
            items.append({"id": f"b{i}", "code": BROKEN.format(i=i)})
            expected[i] = "failed"
    return items, expected


def outcome(line: dict[str, Any]) -> str:
    return "error" if "error" in line else str(line["verdict"]["status"])


@pytest.mark.timeout(90)
def test_a_batch_of_300_streams_every_result_exactly_once(stack: Stack) -> None:
    items, expected = mixed_items(300)
    with serve_stack(stack) as url:
        lines = []
        with httpx.stream(
            "POST", url + "/v1/batch", params={"stream": "true"}, json={"items": items}, timeout=60
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            job_id = response.headers["x-job-id"]
            assert response.headers["location"] == f"/v1/jobs/{job_id}"
            for raw in response.iter_lines():
                lines.append(json.loads(raw))
        job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        metrics = httpx.get(url + "/metrics", timeout=10).text
    indices = Counter(line["index"] for line in lines)
    assert len(lines) == 300 and set(indices) == set(range(300)) and max(indices.values()) == 1
    assert {line["index"]: outcome(line) for line in lines} == expected
    by_index = {line["index"]: line for line in lines}
    assert by_index[10]["id"] == "h10" and "id" not in by_index[13]
    assert by_index[37]["error"]["error"] == "validation"
    assert job["status"] == "completed" and job["counts"]["done"] == 300
    assert job["counts"]["errors"] == list(expected.values()).count("error")
    assert job["counts"]["by_status"]["compiled"] == 30
    assert job["finished_at"] and job["created_at"]
    assert "proofgate_jobs_created_total 1.0" in metrics
    assert 'proofgate_batch_items_total{outcome="compiled"} 30.0' in metrics
    assert (
        "proofgate_batch_active_jobs 0.0" in metrics and "proofgate_batch_in_flight 0.0" in metrics
    )


def test_post_without_stream_answers_202_and_the_job_can_be_read(stack: Stack) -> None:
    items, expected = mixed_items(40)
    with serve_stack(stack) as url:
        created = httpx.post(url + "/v1/batch", json={"items": items}, timeout=20)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.json()["status"] in ("queued", "running", "completed")
        assert created.headers["location"] == f"/v1/jobs/{job_id}"
        with httpx.stream(
            "GET",
            f"{url}/v1/jobs/{job_id}/results",
            params={"follow": "true"},
            headers={"Accept": "application/x-ndjson"},
            timeout=30,
        ) as followed:
            streamed = [json.loads(raw) for raw in followed.iter_lines()]
        assert sorted(line["index"] for line in streamed) == list(range(40))
        report = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        assert report["status"] == "completed" and report["counts"]["pending"] == 0
        page = httpx.get(
            f"{url}/v1/jobs/{job_id}/results", params={"offset": 10, "limit": 5}, timeout=10
        )
        assert page.headers["content-type"].startswith("application/json")
        assert [entry["index"] for entry in page.json()] == [10, 11, 12, 13, 14]
        assert outcome(page.json()[0]) == expected[10]
        missing = httpx.get(f"{url}/v1/jobs/{'0' * 32}", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert httpx.get(f"{url}/v1/jobs/not-an-id", timeout=10).status_code == 422


def test_item_limits_give_413_and_422_with_a_clear_message(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, max_batch_items=5)
    with serve_stack(stack) as url:
        many = httpx.post(url + "/v1/batch", json={"items": [{"code": "x"}] * 6}, timeout=10)
        assert many.status_code == 413
        assert many.json()["error"] == "too_many_items"
        assert "6 items" in many.json()["message"] and "split" in many.json()["message"]
        empty = httpx.post(url + "/v1/batch", json={"items": []}, timeout=10)
        assert empty.status_code == 422 and "items" in empty.json()["message"]
        shapeless = httpx.post(url + "/v1/batch", json=[{"code": "x"}], timeout=10)
        assert shapeless.status_code == 422
        ok = httpx.post(url + "/v1/batch", json={"items": [{"code": "x"}] * 5}, timeout=10)
        assert ok.status_code == 202


def _wait_done(
    url: str, job_id: str, *, at_least: int, timeout: float, finished: bool = False
) -> dict[str, Any]:
    """The job's report once `at_least` items are done (and, with `finished`, once the job is
    marked completed or failed: that write follows its last item's)."""
    deadline = time.monotonic() + timeout
    while True:
        report = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        done = report["counts"]["done"] >= at_least
        if finished:
            done = done and report["status"] in ("completed", "failed")
        if done or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("resume", [True, False])
def test_a_restart_mid_job_resumes_it_or_fails_it_with_a_reason(
    tmp_path: Path, resume: bool
) -> None:
    stack = make_stack(tmp_path, resume_jobs=resume, batch_concurrency=2)
    items = [{"id": f"s{i}", "code": SLOW.format(i=i)} for i in range(16)]
    with serve_stack(stack) as url:
        job_id = httpx.post(url + "/v1/batch", json={"items": items}, timeout=10).json()["id"]
        before = _wait_done(url, job_id, at_least=3, timeout=20)
    assert 3 <= before["counts"]["done"] < 16, before  # the server stopped with items left
    with serve_stack(stack) as url:
        after = _wait_done(url, job_id, at_least=16, timeout=30, finished=True)
        results = httpx.get(f"{url}/v1/jobs/{job_id}/results", timeout=10).json()
    assert sorted(entry["index"] for entry in results) == list(range(16))
    assert all(entry["id"] == f"s{entry['index']}" for entry in results)
    if resume:
        assert after["status"] == "completed" and after["resumed"] == 1
        assert "resumed after a server restart" in after["reason"]
        assert {outcome(entry) for entry in results} == {"failed"}
    else:
        assert after["status"] == "failed" and "restarted" in after["reason"]
        failed = [e for e in results if "error" in e]
        assert len(failed) == 16 - after["counts"]["by_status"].get("failed", 0) > 0
        assert all(e["error"]["error"] == "job_failed" for e in failed)


@pytest.mark.timeout(60)
def test_the_clients_batch_helpers_return_results_in_order(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions: list[Any] = [
        {"code": HONEST.format(i=1), "id": "one"},
        {"code": REFUSED.format(i=2)},
        {"code": 42},
        {"code": BROKEN.format(i=3)},
    ]
    with serve_stack(stack) as url:
        with Client(url) as client:
            results = client.batch(submissions, progress=True)
            assert client.batch([], progress=False) == []

        async def run_async() -> list[Verdict | ItemError]:
            async with AsyncClient(url) as client:
                return await client.batch(submissions, progress=False)

        import asyncio

        async_results = asyncio.run(run_async())
    for got in (results, async_results):
        assert [type(r).__name__ for r in got] == ["Verdict", "Verdict", "ItemError", "Verdict"]
        assert isinstance(got[0], Verdict) and got[0].status is VerdictStatus.compiled
        assert isinstance(got[1], Verdict) and got[1].status is VerdictStatus.rejected
        assert isinstance(got[2], ItemError) and got[2].error == "validation"
        assert isinstance(got[3], Verdict) and got[3].status is VerdictStatus.failed
    assert "4/4" in capsys.readouterr().err  # the progress bar counted every result
