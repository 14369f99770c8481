"""`proofgate.rewards.openrlhf.openrlhf_reward_func`, called as OpenRLHF calls a remote reward
file's `reward_func(queries, prompts, labels)` (one sample each, labels the locked statements)."""

from __future__ import annotations

import pytest

from proofgate.api.app import create_app
from proofgate.rewards import Scorer
from proofgate.rewards.openrlhf import openrlhf_reward_func
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A, STATEMENT_B
from tests.support.live_app import run_app
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(120)


def test_interleaved_labels_are_scored_as_groups_and_answered_in_the_calls_order(
    stack: Stack,
) -> None:
    labels = [STATEMENT_A, STATEMENT_B, STATEMENT_A, STATEMENT_B]
    prompts = [f"Prove:\n{label}" for label in labels]
    responses = [PROSE, CHEAT, PROVED, PROVED]
    queries = [prompt + response for prompt, response in zip(prompts, responses, strict=True)]
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        reward_func = openrlhf_reward_func(Scorer(url))
        answer = reward_func(queries, prompts, labels)
        with pytest.raises(ValueError, match="as long as each other"):
            reward_func(queries, prompts, labels[:-1])
    assert answer["rewards"] == [0.0, 0.0, 1.0, 1.0]
    assert answer["extra_logs"]["proofgate_no_proof"] == [1.0, 0.0, 0.0, 0.0]
    assert answer["extra_logs"]["proofgate_cheat"] == [0.0, 1.0, 0.0, 0.0]
