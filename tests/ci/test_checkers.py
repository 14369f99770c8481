"""The remote checker (proofgate.AsyncClient): verdicts over HTTP, service faults as typed errors."""

from __future__ import annotations

import httpx
import pytest

from proofgate.ci.checkers import remote_checker
from proofgate.exceptions import ProofgateError
from proofgate.models import Submission, Verdict, VerdictStatus

SUBMISSION = Submission(
    statement="theorem t : True := sorry", code="theorem t : True := trivial", target="t"
)


def transport(responses: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    return httpx.MockTransport(handle)


async def test_a_verdict_comes_back_typed_with_the_api_key() -> None:
    seen: list[httpx.Request] = []
    verdict = Verdict(status=VerdictStatus.proved, kind="check", target="t")
    mock = transport([httpx.Response(200, json=verdict.model_dump(mode="json"))], seen)
    async with remote_checker("http://127.0.0.1:9", api_key="k", transport=mock) as checker:
        assert (await checker.check(SUBMISSION)).status is VerdictStatus.proved
    (request,) = seen
    assert request.url.path == "/v1/check" and request.headers["authorization"] == "Bearer k"
    assert Submission.model_validate_json(request.content) == SUBMISSION


@pytest.mark.parametrize("status", [401, 422, 500])
async def test_refusals_are_proofgate_errors(status: int) -> None:
    mock = transport([httpx.Response(status, json={"error": "x", "message": "no"})], [])
    async with remote_checker("http://127.0.0.1:9", transport=mock) as checker:
        with pytest.raises(ProofgateError):
            await checker.check(SUBMISSION)


async def test_an_unreachable_server_is_a_proofgate_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with remote_checker(
        "http://127.0.0.1:9", transport=httpx.MockTransport(refuse)
    ) as checker:
        with pytest.raises(ProofgateError, match="cannot reach"):
            await checker.check(SUBMISSION)
