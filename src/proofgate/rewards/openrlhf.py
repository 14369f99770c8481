"""OpenRLHF: what `POST /v1/rewards/openrlhf` (`--reward.remote_url`) reads and answers.

Written against OpenRLHF/OpenRLHF 0.11: `openrlhf/utils/agent.py` (`SingleTurnAgentExecutor`:
after each sample it decodes prompt and response tokens together, special tokens kept, and posts
`{"query": [query], "prompts": [prompt], "labels": [label]}`, one sample a request, to each
`--reward.remote_url`; it reads `rewards`, `scores` (else `rewards`) and `extra_logs` of the
answer) and `openrlhf/cli/serve_rm.py` (the reference server answers lists, one value per query,
and `extra_logs` of lists). The label (`--data.label_key`) is the locked statement.

`--reward.remote_url` may instead name a Python file whose `reward_func(queries, prompts,
labels)` OpenRLHF calls (`SingleTurnAgentExecutor._fetch_rewards_via_func`: one sample a call, in
a thread through `asyncio.to_thread`, reading the same keys): `openrlhf_reward_func` makes one
that asks a proofgate server, and can write a reward log (OpenRLHF passes no step: a line's `step`
is the log's `step` attribute, None unless set, and its `call` counts the calls).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from proofgate.models.check import LeanSource
from proofgate.models.rewards import RewardRecord
from proofgate.rewards.log import RewardLogArg, open_reward_log
from proofgate.rewards.scorer import Scorer

#: A label is a locked statement, held to `RewardRequest.statement`'s bounds (a 422 naming it).
Statement = Annotated[LeanSource, Field(min_length=1)]

__all__ = [
    "OpenRLHFRequest",
    "OpenRLHFResponse",
    "openrlhf_response",
    "openrlhf_reward_func",
    "strip_prompt",
]

OpenRLHFRewardFunc = Callable[[Sequence[str], Sequence[str], Sequence[str]], dict[str, Any]]


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


def openrlhf_reward_func(
    scorer: Scorer, *, unfinished: float = 0.0, reward_log: RewardLogArg = None
) -> OpenRLHFRewardFunc:
    """A `reward_func(queries, prompts, labels)` for `--reward.remote_url reward.py`, asking a
    server scorer (`Scorer(url)`: OpenRLHF calls it in threads) and answering as the route does;
    its records appended to `reward_log` (a path, opened now: ConfigError if it cannot be
    written). The route (`POST /v1/rewards/openrlhf`) coalesces samples into groups; this sends
    each call's samples as they come."""
    if scorer.url is None:
        raise TypeError("OpenRLHF calls reward_func in threads: give the Scorer a server `url`")
    log = open_reward_log(reward_log)

    def reward_func(
        queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str]
    ) -> dict[str, Any]:
        if not len(queries) == len(prompts) == len(labels):
            raise ValueError(
                f"queries, prompts and labels must be as long as each other (they are "
                f"{len(queries)}, {len(prompts)} and {len(labels)})"
            )
        statements = [str(label) for label in labels]
        responses = [
            strip_prompt(query, prompt) for query, prompt in zip(queries, prompts, strict=True)
        ]
        ordered = scorer.score_each_blocking(statements, responses)
        if log is not None:
            log.write(
                ordered,
                statements,
                adapter="openrlhf",
                environment=scorer.environment,
            )
        return openrlhf_response(ordered, unfinished=unfinished)

    return reward_func
