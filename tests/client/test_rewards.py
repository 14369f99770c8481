"""`Client.rewards` and `AsyncClient.rewards`: `POST /v1/rewards` round trips against the app on
the stand-in stack, under real uvicorn on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

import proofgate
from proofgate.api.app import create_app
from proofgate.exceptions import SubmissionError
from proofgate.models.rewards import RewardRequest
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A
from tests.support.live_app import run_app
from tests.support.stack import make_stack

pytestmark = pytest.mark.timeout(120)


def test_both_clients_reward_a_group(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        with proofgate.Client(url) as client:
            answer = client.rewards(statement=STATEMENT_A, completions=[PROVED, CHEAT, PROSE])
            with pytest.raises(SubmissionError):
                client.rewards(statement=STATEMENT_A, completions=[])

        async def call() -> list[float | None]:
            async with proofgate.AsyncClient(url) as client:
                request = RewardRequest(statement=STATEMENT_A, completions=[PROVED], timeout=5)
                return [record.reward for record in (await client.rewards(request)).records]

        import asyncio

        assert asyncio.run(call()) == [1.0]
    assert [record.reward for record in answer.records] == [1.0, 0.0, 0.0]
    assert [record.status.value for record in answer.records] == ["proved", "rejected", "no_proof"]
    assert answer.cheats == {"native_code": 1}
