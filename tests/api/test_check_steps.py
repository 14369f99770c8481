"""`POST /v1/check/steps` (the verdict and the proof's tactic steps, what `proofgate extract` writes)
over real uvicorn on 127.0.0.1, on the stand-in stack: the simulated REPL answers `allTactics`
(bench/simulated_tactics.py), the stand-in checker audits. The python client's `check_steps`,
blocking and awaitable, reads the same answer; keys guard the route as the rest of `/v1`; each
tenant's steps run on workers of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.client import AsyncClient, Client
from proofgate.exceptions import ClientError
from proofgate.models import VerdictStatus
from proofgate.models.steps import CheckStepsResponse
from proofgate.store.keys import KeyStore
from tests.support.live_app import run_app
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(120)

STATEMENT = "theorem two (P : Prop) (hp : P) : P := by sorry"
PROVED = {"statement": STATEMENT, "proof": "by\n  have t := 37\n  exact hp"}
FAILED = {
    "statement": "theorem bad (P Q : Prop) (hp : P) : Q := by sorry",
    "proof": "by\n  exact hp -- standin: error type mismatch",
}
REFUSED = {"code": "import Mathlib\n#exit"}  # the policy refuses it: Lean never runs it


def post(url: str, body: dict[str, Any], **params: str) -> CheckStepsResponse:
    response = httpx.post(url + "/v1/check/steps", json=body, params=params, timeout=60)
    assert response.status_code == 200, response.text
    return CheckStepsResponse.model_validate_json(response.content)


def without_times(answer: CheckStepsResponse) -> Any:
    assert answer.steps is not None
    return answer.steps.model_dump(exclude={"steps": {"__all__": {"time_ms"}}})


def test_a_proved_submission_comes_with_its_steps(url: str) -> None:
    answer = post(url, PROVED)
    assert answer.verdict.status is VerdictStatus.proved
    assert answer.steps is not None and answer.steps.note is None
    assert (
        answer.steps.code == "theorem two (P : Prop) (hp : P) : P := by\n  have t := 37\n  exact hp"
    )
    have, exact = answer.steps.steps
    assert (have.tactic, have.pos.line, have.pos.column, have.end_pos.column) == (
        "have t := 37",
        2,
        2,
        14,
    )
    assert have.goals_before == "P : Prop\nhp : P\n⊢ P"
    assert have.goals_after == ["P : Prop\nhp : P\nt : Nat\n⊢ P"]  # the tactic run again
    assert have.used_constants == ["instOfNatNat", "Nat", "OfNat.ofNat"]
    assert have.time_ms is not None and have.time_ms >= 0
    assert (exact.tactic, exact.goals_after, exact.used_constants) == ("exact hp", [], [])


def test_an_unproved_verdict_has_steps_only_when_asked(url: str) -> None:
    plain = post(url, FAILED)
    assert plain.verdict.status is VerdictStatus.failed and plain.steps is None
    asked = post(url, FAILED, include_unverified="true")
    assert asked.verdict.status is VerdictStatus.failed
    assert asked.steps is not None and asked.steps.steps == []  # Lean listed none
    assert "type mismatch" in (asked.steps.note or "")


def test_a_policy_refusal_runs_nothing_even_when_asked(url: str) -> None:
    answer = post(url, REFUSED, include_unverified="true")
    assert answer.verdict.status is VerdictStatus.rejected and answer.steps is None


def test_a_malformed_request_is_422(url: str) -> None:
    for body, params in (({"code": 3}, {}), (PROVED, {"include_unverified": "perhaps"})):
        response = httpx.post(url + "/v1/check/steps", json=body, params=params, timeout=30)
        assert response.status_code == 422, response.text


def test_the_client_reads_the_same_answer_blocking_and_awaitable(url: str) -> None:
    by_hand = post(url, PROVED)
    with Client(url) as client:
        blocking = client.check_steps(**PROVED)
        unproved = client.check_steps(include_unverified=True, **FAILED)

    async def awaited() -> CheckStepsResponse:
        async with AsyncClient(url) as client:
            return await client.check_steps(**PROVED)

    awaitable = asyncio.run(awaited())
    for answer in (blocking, awaitable):
        assert answer.verdict.status is VerdictStatus.proved
        assert without_times(answer) == without_times(by_hand)
    assert unproved.verdict.status is VerdictStatus.failed and unproved.steps is not None


def test_keys_guard_it_and_each_tenant_has_workers_of_its_own(stack: Stack) -> None:
    service = stack.service()
    assert stack.settings.api_keys_file is not None
    keys = KeyStore(stack.settings.api_keys_file)
    _, alice = keys.create("alice")
    _, bob = keys.create("bob")
    with run_app(create_app(stack.settings, service=service), timeout=20) as url:
        missing = httpx.post(url + "/v1/check/steps", json=PROVED, timeout=30)
        assert missing.status_code == 401
        with Client(url, api_key=alice) as client:
            first = client.check_steps(**PROVED)
            again = client.check_steps(**PROVED)
        with Client(url, api_key=bob) as client:
            other = client.check_steps(**PROVED)
        with Client(url, api_key="pg_wrong") as client, pytest.raises(ClientError):
            client.check_steps(**PROVED)
        # one worker for alice's two requests, another for bob's: never one worker for both
        workers = service._step_workers
        assert workers is not None and workers.started == 2
    assert without_times(first) == without_times(again) == without_times(other)


def test_a_free_compile_without_its_target_runs_nothing(url: str) -> None:
    answer = post(
        url, {"code": "theorem a : True := trivial", "target": "b"}, include_unverified="true"
    )
    assert answer.verdict.status is VerdictStatus.failed
    assert answer.steps is not None and answer.steps.code is None and answer.steps.steps == []
    assert answer.steps.note == "not run: the policy or the assembly refused it"
