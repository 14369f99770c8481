"""`open_backend`, the one way to say "check here or on a server": the remote backend
(proofgate.AsyncClient) gives verdicts over HTTP and service faults as typed errors; the local one
starts and closes its service, and says at once when it cannot verify if asked to."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from proofgate.backends import LocalBackend, RemoteBackend, open_backend
from proofgate.config import Settings
from proofgate.exceptions import NotReady, ProofgateError
from proofgate.models import Submission, Verdict, VerdictStatus
from tests.support.stack import make_stack

SUBMISSION = Submission(
    statement="theorem t : True := sorry", code="theorem t : True := trivial", target="t"
)


def transport(responses: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    return httpx.MockTransport(handle)


async def test_a_verdict_comes_back_typed_with_the_api_key(settings: Settings) -> None:
    seen: list[httpx.Request] = []
    verdict = Verdict(status=VerdictStatus.proved, kind="check", target="t")
    mock = transport([httpx.Response(200, json=verdict.model_dump(mode="json"))], seen)
    async with open_backend(
        settings, server="http://127.0.0.1:9", api_key="k", transport=mock
    ) as checker:
        assert isinstance(checker, RemoteBackend)
        assert (await checker.check(SUBMISSION)).status is VerdictStatus.proved
    (request,) = seen
    assert request.url.path == "/v1/check" and request.headers["authorization"] == "Bearer k"
    assert Submission.model_validate_json(request.content) == SUBMISSION


@pytest.mark.parametrize("status", [401, 422, 500])
async def test_refusals_are_proofgate_errors(status: int, settings: Settings) -> None:
    mock = transport([httpx.Response(status, json={"error": "x", "message": "no"})], [])
    async with open_backend(settings, server="http://127.0.0.1:9", transport=mock) as checker:
        with pytest.raises(ProofgateError):
            await checker.check(SUBMISSION)


async def test_an_unreachable_server_is_a_proofgate_error(settings: Settings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with open_backend(
        settings, server="http://127.0.0.1:9", transport=httpx.MockTransport(refuse)
    ) as checker:
        with pytest.raises(ProofgateError, match="cannot reach"):
            await checker.check(SUBMISSION)


async def test_without_a_server_a_service_runs_here_and_closes_with_the_backend(
    tmp_path: Path,
) -> None:
    stack = make_stack(tmp_path)  # stand-in REPL and checker
    async with open_backend(stack.settings, service=stack.service(), require_ready=True) as backend:
        assert isinstance(backend, LocalBackend)
        service = backend.service
        assert service.pool_stats() is not None  # started
        rejected = await backend.check(
            Submission(code='import Mathlib\n#eval IO.getEnv "HOME"', policy="strict")
        )
        assert rejected.status is VerdictStatus.rejected
    assert service.pool_stats() is None  # closed with the backend


async def test_require_ready_raises_at_once_naming_what_is_missing(settings: Settings) -> None:
    with pytest.raises(NotReady, match=r"cannot verify in this process: .*proofgate doctor"):
        async with open_backend(settings, require_ready=True):
            pytest.fail("a backend that cannot verify was handed out")
