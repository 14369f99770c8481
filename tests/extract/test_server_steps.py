"""`ServerSteps`, extract's source on `--server`, against answers a server may give (httpx's mock
transport, no network): a server older than `POST /v1/check/steps` is named as such, other refusals
pass through as the client raises them, and a signed item's steps say why the server has none."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from proofgate.client import AsyncClient, RetryPolicy
from proofgate.exceptions import ClientError, RemoteError
from proofgate.extract.steps import ServerSteps
from proofgate.models import Submission, Verdict, VerdictStatus

pytestmark = pytest.mark.timeout(30)

SUBMISSION = Submission(code="theorem t : True := trivial")


def answering(handler: Callable[[httpx.Request], httpx.Response]) -> AsyncClient:
    return AsyncClient(
        "http://127.0.0.1:9", transport=httpx.MockTransport(handler), retry=RetryPolicy(1)
    )


async def test_a_server_without_the_route_is_named() -> None:
    async with answering(lambda _: httpx.Response(404, json={"detail": "Not Found"})) as client:
        with pytest.raises(RemoteError, match="no POST /v1/check/steps") as info:
            await ServerSteps(client).check(SUBMISSION, include_unverified=False)
    assert not isinstance(info.value, ClientError) and info.value.status_code == 404


async def test_another_refusal_passes_through() -> None:
    async with answering(lambda _: httpx.Response(413, json={"detail": "too large"})) as client:
        with pytest.raises(ClientError) as info:
            await ServerSteps(client).check(SUBMISSION, include_unverified=False)
    assert info.value.status_code == 413


async def test_a_signed_item_asks_for_steps_whatever_the_verdict() -> None:
    asked: list[str] = []
    verdict = Verdict(status=VerdictStatus.timeout, kind="compile", content_hash="0" * 64)

    def timed_out(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["include_unverified"])
        return httpx.Response(200, json={"verdict": verdict.model_dump(mode="json"), "steps": None})

    async with answering(timed_out) as client:
        steps = await ServerSteps(client).steps(SUBMISSION)
    assert asked == ["true"]
    assert steps.code is None and steps.steps == []
    assert steps.note == "no steps: the server's Lean did not run it to an answer (timeout)"
