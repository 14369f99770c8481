"""The client's calls are written once, as flows with no I/O in them: driven here by hand, then
shown to give the same answers through the blocking and the awaitable client."""

from __future__ import annotations

import httpx
import pytest

from proofgate.client import AsyncClient, Client, RetryPolicy
from proofgate.client._base import NextLine, Send, Sleep
from proofgate.client._batch import batch_flow
from proofgate.client._client import check_flow
from proofgate.exceptions import Busy, ServerError
from proofgate.models import Verdict, VerdictStatus

VERDICT = Verdict(status=VerdictStatus.proved, kind="check", target="t")


def busy() -> httpx.Response:
    return httpx.Response(
        503, json={"error": "busy", "message": "full"}, headers={"Retry-After": "2"}
    )


def test_a_check_is_a_send_then_a_sleep_on_busy_then_a_send_again() -> None:
    client = Client(retry=RetryPolicy(attempts=2))
    flow = check_flow(client, None, {"code": "theorem t : True := trivial"})
    first = next(flow)
    assert isinstance(first, Send) and (first.method, first.path) == ("POST", "/v1/check")
    assert isinstance(flow.send(busy()), Sleep)
    assert flow.send(None) == first  # the same request again
    with pytest.raises(StopIteration) as done:
        flow.send(httpx.Response(200, json=VERDICT.model_dump(mode="json")))
    assert done.value.value == VERDICT
    client.close()


def test_busy_past_the_attempts_is_the_typed_error() -> None:
    client = Client(retry=RetryPolicy(attempts=1))
    flow = check_flow(client, None, {"code": "x"})
    next(flow)
    with pytest.raises(Busy):
        flow.send(busy())
    client.close()


def test_a_transport_failure_thrown_into_a_flow_becomes_a_server_error() -> None:
    client = Client()
    flow = check_flow(client, None, {"code": "x"})
    request = next(flow)
    with pytest.raises(ServerError, match="cannot reach proofgate"):
        flow.throw(httpx.ConnectError("refused", request=httpx.Request("POST", request.path)))
    client.close()


def test_a_batch_reads_lines_until_the_stream_ends() -> None:
    client = Client()
    flow = batch_flow(client, [{"code": "a"}, {"code": "b"}], progress=False)
    opened = next(flow)
    assert isinstance(opened, Send) and opened.stream and opened.path == "/v1/batch"
    answer = httpx.Response(200, headers={"x-job-id": "j1"})
    lines = [
        f'{{"index": 1, "verdict": {VERDICT.model_dump_json()}}}',
        '{"index": 0, "error": {"error": "validation", "message": "bad"}}',
    ]
    assert isinstance(flow.send(answer), NextLine)
    assert isinstance(flow.send(lines[0]), NextLine)
    assert isinstance(flow.send(lines[1]), NextLine)
    with pytest.raises(StopIteration) as done:
        flow.send(None)  # the stream ended, every result in
    first, second = done.value.value
    assert second == VERDICT and first.error == "validation"
    client.close()


def _transport() -> httpx.MockTransport:
    answers = iter([busy(), httpx.Response(200, json=VERDICT.model_dump(mode="json"))])
    return httpx.MockTransport(lambda request: next(answers))


def test_both_clients_run_the_same_flow() -> None:
    slept: list[float] = []
    with Client(transport=_transport()) as client:
        client._sleep = slept.append  # type: ignore[method-assign]
        assert client.check(code="x") == VERDICT
    assert slept == [2.0]


async def test_the_async_client_runs_the_same_flow() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with AsyncClient(transport=_transport()) as client:
        client._sleep = sleep  # type: ignore[method-assign]
        assert await client.check(code="x") == VERDICT
    assert slept == [2.0]


def test_a_transport_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="AsyncBaseTransport"):
        AsyncClient(transport=httpx.HTTPTransport())
    with pytest.raises(TypeError, match="BaseTransport"):
        Client(transport=httpx.AsyncHTTPTransport())
