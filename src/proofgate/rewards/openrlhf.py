"""OpenRLHF: what `POST /v1/rewards/openrlhf` (`--reward.remote_url`) reads and answers.

Written against OpenRLHF/OpenRLHF 0.11: `openrlhf/utils/agent.py` (`SingleTurnAgentExecutor`:
after each sample it decodes prompt and response tokens together, special tokens kept, and posts
`{"query": [query], "prompts": [prompt], "labels": [label]}`, one sample a request, to each
`--reward.remote_url`; it reads `rewards`, `scores` (else `rewards`) and `extra_logs` of the
answer) and `openrlhf/cli/serve_rm.py` (the reference server answers lists, one value per query,
and `extra_logs` of lists). The label (`--data.label_key`) is the locked statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from proofgate.models.check import MAX_SOURCE_CHARS
from proofgate.models.rewards import RewardRecord

#: A label is a locked statement, held to `RewardRequest.statement`'s bounds (a 422 naming it).
Statement = Annotated[str, Field(min_length=1, max_length=MAX_SOURCE_CHARS)]

__all__ = ["OpenRLHFRequest", "OpenRLHFResponse", "openrlhf_response", "strip_prompt"]


class OpenRLHFRequest(BaseModel):
    """What OpenRLHF posts: queries (prompt + response), their prompts and labels, in step."""

    model_config = ConfigDict(extra="allow")

    query: list[str] = Field(min_length=1, description="Prompt and response, decoded together.")
    prompts: list[str] = Field(description="Each query's prompt, as the model saw it.")
    labels: list[Statement] = Field(description="Each query's label: the locked statement.")


class OpenRLHFResponse(BaseModel):
    """What OpenRLHF reads: one reward and score per query, and per-query logs."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)


def strip_prompt(query: str, prompt: str) -> str:
    """The response in a query: what follows the prompt (after any special tokens the decoding
    put before it); the whole query when the prompt is not in it. The prompt usually holds the
    statement's own Lean block, which must never be taken for the answer."""
    if prompt:
        at = query.find(prompt)
        if at >= 0:
            return query[at + len(prompt) :]
    return query


def openrlhf_response(
    records: Sequence[RewardRecord], *, unfinished: float = 0.0
) -> dict[str, Any]:
    """The answer for these records, in order (`unfinished` for a check that did not finish:
    OpenRLHF makes a tensor of the reward)."""
    rewards = [unfinished if r.reward is None else r.reward for r in records]
    logs = {
        "proofgate_proved": [float(r.proved) for r in records],
        "proofgate_cheat": [float(r.cheat is not None) for r in records],
        "proofgate_no_proof": [float(r.status.value == "no_proof") for r in records],
        "proofgate_retry": [float(r.retry) for r in records],
    }
    return OpenRLHFResponse(rewards=rewards, scores=rewards, extra_logs=logs).model_dump()
