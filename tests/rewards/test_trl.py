"""`proofgate.rewards.trl`, called as TRL's `GRPOTrainer._calculate_rewards` calls a reward
function (huggingface/trl, trl/trainer/grpo_trainer.py): keywords `prompts`, `completions`,
`completion_ids`, each other dataset column as a list, `trainer_state`, `log_extra`, `log_metric`;
async functions are told apart by `inspect.iscoroutinefunction` and named by `__name__`."""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

import pytest

from proofgate.api.app import create_app
from proofgate.rewards import Scorer
from proofgate.rewards.trl import completion_text, trl_reward, trl_reward_blocking
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A, STATEMENT_B
from tests.support.live_app import run_app
from tests.support.stack import Stack, running_service

pytestmark = pytest.mark.timeout(120)


class TrainerState:
    """Stands in for transformers' TrainerState (the adapter only passes it by)."""

    global_step = 3


def trainer_call(completions: list[Any], statements: list[str]) -> tuple[dict[str, Any], dict]:
    """The keywords GRPOTrainer passes, and what the function logged through them."""
    logged: dict[str, Any] = {"metrics": defaultdict(list), "extra": {}}
    kwargs = {
        "prompts": [f"Prove:\n```lean4\n{s}```" for s in statements],
        "completions": completions,
        "completion_ids": [[101, 102, index] for index in range(len(completions))],
        "statement": statements,
        "answer": ["unused"] * len(completions),  # another dataset column, passed along
        "trainer_state": TrainerState(),
        "log_extra": lambda column, values: logged["extra"].__setitem__(column, values),
        "log_metric": lambda name, value: logged["metrics"][name].append(value),
    }
    return kwargs, logged


async def test_an_async_reward_function_scores_two_interleaved_groups(stack: Stack) -> None:
    async with running_service(stack) as service:
        reward = trl_reward(Scorer(service=service))
        assert inspect.iscoroutinefunction(reward) and reward.__name__ == "proofgate"
        statements = [STATEMENT_A, STATEMENT_B, STATEMENT_A, STATEMENT_B, STATEMENT_A]
        completions = [PROVED, PROVED, CHEAT, PROSE, PROVED]
        kwargs, logged = trainer_call(completions, statements)
        rewards = await reward(**kwargs)
    assert rewards == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert logged["extra"]["proofgate_status"] == [
        "proved", "proved", "rejected", "no_proof", "proved",
    ]  # fmt: skip
    assert logged["extra"]["proofgate_cheat"] == ["", "", "native_code", "", ""]
    metrics = {name: sum(values) for name, values in logged["metrics"].items()}
    assert metrics["proofgate/cheats/native_code"] == 1.0
    assert metrics["proofgate/proved"] == pytest.approx(0.6)


async def test_conversational_completions_are_read_from_their_assistant_messages(
    stack: Stack,
) -> None:
    completions = [
        [{"role": "assistant", "content": PROVED}],
        [{"role": "assistant", "content": [{"type": "text", "text": PROSE}]}],
    ]
    assert completion_text(completions[0]) == PROVED
    async with running_service(stack) as service:
        reward = trl_reward(Scorer(service=service), statement_column="formal_statement")
        kwargs, _ = trainer_call(completions, [STATEMENT_A] * 2)
        kwargs["formal_statement"] = kwargs.pop("statement")
        assert await reward(**kwargs) == [1.0, 0.0]


async def test_a_missing_statement_column_names_the_columns_there_are(stack: Stack) -> None:
    async with running_service(stack) as service:
        reward = trl_reward(Scorer(service=service))
        kwargs, _ = trainer_call([PROVED], [STATEMENT_A])
        del kwargs["statement"]
        with pytest.raises(KeyError, match="its columns: answer"):
            await reward(**kwargs)


def test_the_blocking_function_against_a_server(stack: Stack) -> None:
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        reward = trl_reward_blocking(Scorer(url))
        assert not inspect.iscoroutinefunction(reward)
        kwargs, logged = trainer_call([PROVED, CHEAT], [STATEMENT_A, STATEMENT_B])
        assert reward(**kwargs) == [1.0, 0.0]
    assert logged["metrics"]["proofgate/cheat_rate"] == [0.5]
