"""The remote checker: verdicts over HTTP, retries as Retry-After asks, errors as service faults."""

from __future__ import annotations

import httpx
import pytest

from proofgate.ci.checkers import RemoteChecker
from proofgate.exceptions import Busy, NotReady, SubmissionError
from proofgate.models import Submission, Verdict, VerdictStatus

SUBMISSION = Submission(statement="theorem t : True := sorry", code="theorem t : True := trivial", target="t")


def checker(responses: list[httpx.Response], seen: list[httpx.Request]) -> RemoteChecker:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    client = httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(handle),
                               headers={"Authorization": "Bearer k"})
    return RemoteChecker(client)


async def test_a_verdict_comes_back_typed() -> None:
    seen: list[httpx.Request] = []
    verdict = Verdict(status=VerdictStatus.proved, kind="check", target="t")
    remote = checker([httpx.Response(200, json=verdict.model_dump(mode="json"))], seen)
    assert (await remote.check(SUBMISSION)).status is VerdictStatus.proved
    (request,) = seen
    assert request.url.path == "/v1/check" and request.headers["authorization"] == "Bearer k"
    assert Submission.model_validate_json(request.content) == SUBMISSION


async def test_503_is_retried_then_answered() -> None:
    seen: list[httpx.Request] = []
    verdict = Verdict(status=VerdictStatus.incomplete, kind="check", target="t")
    remote = checker([httpx.Response(503, headers={"Retry-After": "0"}, text="warming up"),
                      httpx.Response(200, json=verdict.model_dump(mode="json"))], seen)
    assert (await remote.check(SUBMISSION)).status is VerdictStatus.incomplete
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, NotReady), (429, Busy), (401, NotReady), (422, SubmissionError), (500, NotReady)],
)
async def test_persistent_errors_are_service_faults(status: int, error: type) -> None:
    seen: list[httpx.Request] = []
    remote = checker([httpx.Response(status, headers={"Retry-After": "0"}, text="no")] * 4, seen)
    with pytest.raises(error):
        await remote.check(SUBMISSION)
    assert len(seen) == (4 if status in (429, 503) else 1)


async def test_garbage_is_not_a_verdict() -> None:
    remote = checker([httpx.Response(200, json={"status": "proved-ish"})], [])
    with pytest.raises(NotReady, match="not a verdict"):
        await remote.check(SUBMISSION)


async def test_an_unreachable_server_is_a_service_fault() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    remote = RemoteChecker(httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(refuse)))
    with pytest.raises(NotReady, match="cannot reach"):
        await remote.check(SUBMISSION)
