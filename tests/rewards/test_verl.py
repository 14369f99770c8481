"""`proofgate.rewards.verl`, called as verl's reward loop calls a custom `compute_score`
(volcengine/verl, verl/experimental/reward_loop/reward_manager/naive.py `run_single`: keywords
`data_source`, `solution_str`, `ground_truth`, `extra_info`, plus the config's reward_kwargs;
`RewardLoopWorker.compute_score_batch` starts every sample at once; verl/trainer/ppo/reward.py
awaits the function when `inspect.iscoroutinefunction` holds). Its result is a dict with a float
`score`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence

import pytest

from proofgate.api.app import create_app
from proofgate.models.rewards import RewardRecord
from proofgate.rewards import Scorer
from proofgate.rewards.verl import verl_compute_score, verl_compute_score_blocking
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A, STATEMENT_B
from tests.support.live_app import run_app
from tests.support.stack import Stack, running_service

pytestmark = pytest.mark.timeout(120)

#: Long enough never to be what closes a group here: each test fills its groups.
NEVER = 60.0


class CountingScorer(Scorer):
    """A scorer that remembers the groups it was asked to score."""

    groups: list[tuple[str, int]]

    async def score(
        self, statement: str, completions: Sequence[str], *, environment: str | None = None
    ) -> list[RewardRecord]:
        self.groups.append((statement, len(completions)))
        return await super().score(statement, completions, environment=environment)


def extra_info(index: int) -> dict[str, object]:
    """A row's extra_info as run_single passes it (with num_turns and rollout scores added)."""
    return {"index": index, "num_turns": None, "rollout_reward_scores": {}}


async def test_concurrent_calls_for_one_statement_are_one_group(stack: Stack) -> None:
    async with running_service(stack) as service:
        scorer = CountingScorer(service=service)
        scorer.groups = []
        compute_score = verl_compute_score(scorer, group_size=4, linger=NEVER)
        assert inspect.iscoroutinefunction(compute_score)
        samples = [
            (STATEMENT_A, PROVED), (STATEMENT_B, PROVED), (STATEMENT_A, CHEAT),
            (STATEMENT_B, PROSE), (STATEMENT_A, PROSE), (STATEMENT_B, CHEAT),
            (STATEMENT_A, PROVED), (STATEMENT_B, PROVED),
        ]  # fmt: skip
        results = await asyncio.gather(
            *(
                compute_score(
                    data_source="proofgate",
                    solution_str=solution,
                    ground_truth=statement,
                    extra_info=extra_info(index),
                    reward_router_address=None,  # a reward_kwargs entry, ignored
                )
                for index, (statement, solution) in enumerate(samples)
            )
        )
    assert sorted(scorer.groups) == sorted([(STATEMENT_A, 4), (STATEMENT_B, 4)])
    assert [result["score"] for result in results] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert results[2] == {
        "score": 0.0,
        "proved": 0.0,
        "retry": 0.0,
        "status": "rejected",
        "cheat": "native_code",
    }
    assert all(isinstance(result["score"], float) for result in results)


async def test_a_lone_call_is_scored_after_the_linger(stack: Stack) -> None:
    async with running_service(stack) as service:
        compute_score = verl_compute_score(Scorer(service=service), linger=0.0)
        result = await compute_score("proofgate", PROVED, STATEMENT_A, None)
    assert result["score"] == 1.0 and result["status"] == "proved"


def test_the_blocking_function_against_a_server(stack: Stack) -> None:
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        compute_score = verl_compute_score_blocking(Scorer(url))
        assert not inspect.iscoroutinefunction(compute_score)
        result = compute_score(
            data_source="proofgate",
            solution_str=CHEAT,
            ground_truth=STATEMENT_A,
            extra_info={"environment": "default"},
        )
    assert result["score"] == 0.0 and result["cheat"] == "native_code"
