"""`POST /v1/rewards/openrlhf` under real uvicorn on loopback, on the stand-in stack, posted to as
OpenRLHF 0.11 posts (OpenRLHF/OpenRLHF, openrlhf/utils/agent.py `SingleTurnAgentExecutor`: one
sample a request, `{"query": [prompt + response], "prompts": [prompt], "labels": [label]}`, the
query decoded with its special tokens; it reads `rewards`, `scores`, `extra_logs`)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from proofgate.models.check import MAX_SOURCE_CHARS
from proofgate.rewards.openrlhf import strip_prompt
from tests.api.conftest import serve_stack
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(120)

#: The prompt shows the statement's own block, with a proof that would pass if it were read.
PROMPT = (
    "<|im_start|>user\nComplete the proof:\n```lean4\ntheorem t1 (a b : ℕ) : a + b = b + a := by"
    "\n  omega\n```<|im_end|>\n<|im_start|>assistant\n"
)


def sample(response: str) -> dict[str, list[str]]:
    return {
        "query": [PROMPT + response + "<|im_end|>"],
        "prompts": [PROMPT],
        "labels": [STATEMENT_A],
    }


def test_the_response_is_what_follows_the_prompt() -> None:
    assert strip_prompt("<s>" + PROMPT + "answer", PROMPT) == "answer"
    assert strip_prompt("no prompt here", PROMPT) == "no prompt here"


async def test_concurrent_samples_of_one_label_are_rewarded_as_a_group(stack: Stack) -> None:
    responses = [PROVED, CHEAT, PROSE, PROVED]
    with serve_stack(stack) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            answers = await asyncio.gather(
                *(
                    http.post("/v1/rewards/openrlhf?group_size=4&wait=30", json=sample(r))
                    for r in responses
                )
            )
            metrics = (await http.get("/metrics")).text
    assert [answer.status_code for answer in answers] == [200] * 4
    bodies = [answer.json() for answer in answers]
    assert [body["rewards"] for body in bodies] == [[1.0], [0.0], [0.0], [1.0]]
    assert [body["scores"] for body in bodies] == [[1.0], [0.0], [0.0], [1.0]]
    assert bodies[1]["extra_logs"]["proofgate_cheat"] == [1.0]
    assert bodies[2]["extra_logs"]["proofgate_no_proof"] == [1.0]  # the prompt's block unread
    assert 'proofgate_reward_cheats_total{cheat="native_code",environment="default"} 1' in metrics


def test_a_batch_request_and_a_malformed_one(stack: Stack) -> None:
    with serve_stack(stack) as url, httpx.Client(base_url=url, timeout=60) as http:
        body = {
            "query": [PROMPT + PROVED, PROMPT + PROSE],
            "prompts": [PROMPT, PROMPT],
            "labels": [STATEMENT_A, STATEMENT_A],
        }
        answer = http.post("/v1/rewards/openrlhf?wait=0", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rewards"] == [1.0, 0.0]
        body["labels"] = [STATEMENT_A]
        refused = http.post("/v1/rewards/openrlhf", json=body)
        assert refused.status_code == 422 and "as long as" in refused.json()["message"]
        unknown = http.post("/v1/rewards/openrlhf", json={**sample(PROVED), "labels": ["nope"]})
        assert unknown.status_code == 422


def test_an_empty_label_or_an_oversized_response_is_a_422_naming_it(stack: Stack) -> None:
    """Found by the schema fuzzer: an empty label once reached the group's own request model
    and came back 500."""
    with serve_stack(stack) as url, httpx.Client(base_url=url, timeout=60) as http:
        empty = http.post("/v1/rewards/openrlhf?wait=0", json={**sample(PROVED), "labels": [""]})
        assert empty.status_code == 422, empty.text
        assert "labels" in empty.text
        huge = "x" * (MAX_SOURCE_CHARS + 1)
        body = {"query": [PROMPT + huge], "prompts": [PROMPT], "labels": [STATEMENT_A]}
        oversized = http.post("/v1/rewards/openrlhf?wait=0", json=body)
        assert oversized.status_code == 422, oversized.text
        assert oversized.json()["message"].startswith("query: "), oversized.text
