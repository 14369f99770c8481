"""`proofgate.Client` and `AsyncClient`: typed answers, typed errors, bounded retries.

Retry logic is driven by httpx's MockTransport (no socket at all); the round trips run against the
app under real uvicorn on loopback with a fake service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

import proofgate
from proofgate.api.app import create_app
from proofgate.client import RetryPolicy
from proofgate.client._base import parse_retry_after
from proofgate.config import Settings
from proofgate.exceptions import (
    Busy,
    ClientError,
    LeanUnavailable,
    NotReady,
    SandboxUnavailable,
    ServerError,
    SubmissionError,
)
from proofgate.models import Submission, VerdictStatus
from tests.support.fake_service import FakeServiceWithPool, judge
from tests.support.live_app import run_app
from tests.support.server import free_port

VERDICT = judge(Submission(code="theorem a : True := trivial")).model_dump(mode="json")


def _busy(retry_after: str | None = "2") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = {"error": "busy", "message": "all workers are busy", "retry_after": 2}
    return httpx.Response(503, json=body, headers=headers)


def _scripted(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx.MockTransport(handler), seen


def _client(
    transport: httpx.MockTransport, sleeps: list[float], **options: object
) -> proofgate.Client:
    client = proofgate.Client("http://proofgate.test", transport=transport, **options)  # type: ignore[arg-type]
    client._sleep = sleeps.append  # type: ignore[method-assign]
    return client


# --- retries -----------------------------------------------------------------------------------


def test_503_is_retried_honouring_retry_after_then_succeeds() -> None:
    transport, seen = _scripted([_busy("2"), _busy("3"), httpx.Response(200, json=VERDICT)])
    sleeps: list[float] = []
    with _client(transport, sleeps) as client:
        verdict = client.check(code="theorem a : True := trivial")
    assert verdict.status is VerdictStatus.compiled
    assert len(seen) == 3 and sleeps == [2.0, 3.0]
    assert json.loads(seen[0].content) == {
        "code": "theorem a : True := trivial",
        "answer_holes": [],
        "environment": "default",
        "allowed_axioms": [],
    }


def test_429_is_retried_too_and_sleeps_are_capped() -> None:
    quota = httpx.Response(
        429, json={"error": "quota", "message": "over quota"}, headers={"Retry-After": "3600"}
    )
    transport, _seen = _scripted([quota, httpx.Response(200, json=VERDICT)])
    sleeps: list[float] = []
    with _client(transport, sleeps, retry=RetryPolicy(max_sleep=5)) as client:
        client.check(code="x")
    assert sleeps == [5.0]


def test_retries_are_bounded_and_end_in_a_typed_error() -> None:
    transport, seen = _scripted([_busy(None)])
    sleeps: list[float] = []
    with _client(transport, sleeps, retry=RetryPolicy(attempts=3, backoff=0.1)) as client:
        with pytest.raises(Busy) as caught:
            client.check(code="x")
    assert len(seen) == 3 and len(sleeps) == 2
    assert 0.1 <= sleeps[0] <= 0.125 and 0.2 <= sleeps[1] <= 0.25  # exponential, with jitter
    assert "busy" in str(caught.value)


def test_quota_exhausted_is_a_client_error_with_its_status() -> None:
    transport, _ = _scripted(
        [httpx.Response(429, json={"error": "quota", "message": "over quota"})]
    )
    with _client(transport, [], retry=RetryPolicy(attempts=2, backoff=0)) as client:
        with pytest.raises(ClientError) as caught:
            client.check(code="x")
    assert caught.value.status_code == 429


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("lean_unavailable", LeanUnavailable),
        ("sandbox_unavailable", SandboxUnavailable),
        ("not_ready", NotReady),
    ],
)
def test_not_ready_kinds_map_to_their_errors(kind: str, expected: type[NotReady]) -> None:
    body = {"error": kind, "message": "cannot verify now: x", "reason": "run `proofgate setup`"}
    transport, _ = _scripted([httpx.Response(503, json=body, headers={"Retry-After": "30"})])
    sleeps: list[float] = []
    with (
        _client(transport, sleeps, retry=RetryPolicy(attempts=3)) as client,
        pytest.raises(expected) as caught,
    ):
        client.check(code="x")
    assert caught.value.reason == "run `proofgate setup`" and caught.value.retry_after == 30
    # no estimate from the service: waiting does not install a toolchain, so no retry
    assert sleeps == []


def test_not_ready_with_an_estimate_is_retried() -> None:
    body = {"error": "not_ready", "message": "warming", "reason": "warming", "retry_after": 2}
    warming = httpx.Response(503, json=body, headers={"Retry-After": "2"})
    transport, seen = _scripted([warming, httpx.Response(200, json=VERDICT)])
    sleeps: list[float] = []
    with _client(transport, sleeps) as client:
        assert client.check(code="x").status is VerdictStatus.compiled
    assert sleeps == [2.0] and len(seen) == 2


def test_a_503_from_something_in_front_is_retried() -> None:
    proxy = httpx.Response(
        503, text="<html>upstream unavailable</html>", headers={"Retry-After": "1"}
    )
    transport, _seen = _scripted([proxy, httpx.Response(200, json=VERDICT)])
    sleeps: list[float] = []
    with _client(transport, sleeps) as client:
        client.check(code="x")
    assert sleeps == [1.0]


def test_server_errors_and_garbage_are_server_errors() -> None:
    transport, _ = _scripted(
        [httpx.Response(500, json={"error": "internal", "message": "boom", "request_id": "r1"})]
    )
    with _client(transport, []) as client, pytest.raises(ServerError) as caught:
        client.check(code="x")
    assert caught.value.status_code == 500 and caught.value.request_id == "r1"
    transport, _ = _scripted([httpx.Response(200, text="<html>proxy</html>")])
    with _client(transport, []) as client, pytest.raises(ServerError, match="not a valid Verdict"):
        client.check(code="x")


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("-3") == 0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=100), usegmt=True)
    assert 95 <= (parse_retry_after(later) or 0) <= 100


def test_bad_fields_fail_before_sending() -> None:
    transport, seen = _scripted([httpx.Response(200, json=VERDICT)])
    with _client(transport, []) as client:
        with pytest.raises(SubmissionError) as caught:
            client.check(code="x", timeout=-1)
        assert caught.value.field == "timeout"
        with pytest.raises(TypeError):
            client.check(Submission(code="x"), code="y")
    assert not seen


def test_the_submission_timeout_stretches_the_read_timeout() -> None:
    transport, seen = _scripted([httpx.Response(200, json=VERDICT)])
    with _client(transport, [], timeout=5) as client:
        client.check(code="x", timeout=600)
    assert seen[0].extensions["timeout"]["read"] == 660


# --- against the real server -------------------------------------------------------------------


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, FakeServiceWithPool]]:
    service = FakeServiceWithPool()
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        yield url, service


def test_round_trip_against_uvicorn(server: tuple[str, FakeServiceWithPool]) -> None:
    url, service = server
    with proofgate.Client(url, timeout=10) as client:
        assert client.health() == {"status": "ok"}
        assert client.ready().ready is True
        assert client.environments()[0].lean == "v4.32.0"
        verdict = client.check(
            Submission(statement="theorem t : True := sorry", proof="by trivial")
        )
        assert verdict.status is VerdictStatus.proved and verdict.kind == "check"
        rejected = client.check(code="#exit")
        assert rejected.status is VerdictStatus.rejected and rejected.violations
        service.raises = SandboxUnavailable("bubblewrap missing: apt-get install bubblewrap")
        client.retry = RetryPolicy(attempts=1)
        with pytest.raises(SandboxUnavailable, match="bubblewrap missing"):
            client.check(code="x")


def test_server_side_validation_names_the_field(server: tuple[str, FakeServiceWithPool]) -> None:
    url, service = server
    service.raises = SubmissionError("unknown environment 'x'", field="environment")
    with proofgate.Client(url, timeout=10) as client, pytest.raises(SubmissionError) as caught:
        client.check(code="y")
    assert caught.value.field == "environment"


def test_an_unready_server_reports_rather_than_raises(settings: Settings) -> None:
    service = FakeServiceWithPool(ready=False, reasons=["lean: toolchain v4.32.0 not found"])
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        with proofgate.Client(url, timeout=10) as client:
            report = client.ready()
    assert report.ready is False and "v4.32.0" in report.reasons[0]


async def test_async_client_round_trip_and_retry(server: tuple[str, FakeServiceWithPool]) -> None:
    url, service = server
    async with proofgate.AsyncClient(url, timeout=10) as client:
        assert (await client.health())["status"] == "ok"
        assert (await client.ready()).sandbox == "bwrap"
        assert [env.name for env in await client.environments()] == ["default"]
        verdict = await client.check(code="theorem x : 1 = 1 := error")
        assert verdict.status is VerdictStatus.failed and verdict.messages[0].pos is not None
        service.raises = Busy("all workers are busy", retry_after=0.01)
        sleeps: list[float] = []

        async def record(seconds: float) -> None:
            sleeps.append(seconds)

        client._sleep = record  # type: ignore[method-assign]
        client.retry = RetryPolicy(attempts=3)
        with pytest.raises(Busy):
            await client.check(code="x")
        assert sleeps == [1.0, 1.0]  # Retry-After is whole seconds on the wire


def test_connection_refused_is_a_server_error() -> None:
    port = free_port()  # bound then released: nothing listens there
    with proofgate.Client(f"http://127.0.0.1:{port}", timeout=2) as client:
        with pytest.raises(ServerError, match="cannot reach proofgate"):
            client.health()


def test_a_timeout_is_a_server_error(server: tuple[str, FakeServiceWithPool]) -> None:
    url, service = server
    service.delay = 2.0
    with proofgate.Client(url, timeout=0.3) as client, pytest.raises(ServerError, match="in time"):
        client.check(code="x")
