"""TRL: a reward function for `GRPOTrainer(reward_funcs=[...])`.

Written against huggingface/trl `trl/trainer/grpo_trainer.py` (`GRPOTrainer._calculate_rewards`):
a reward function is called with keywords only, `prompts`, `completions` (decoded strings, or for
a conversational dataset lists of `{"role", "content"}` messages), `completion_ids` (token id
lists), every other dataset column as a list (one value per completion), `trainer_state`,
`log_extra` (extra completion-table columns) and `log_metric` (a scalar per call); it returns one
float per completion, `None` becoming NaN (TRL leaves NaN rewards out of the group's baseline). A
function for which `inspect.iscoroutinefunction` holds is awaited on the trainer's own event loop,
concurrently with the other async reward functions; it is named by its `__name__`
(`trl/trainer/utils.py`, `get_callable_name`), so its mean logs as `rewards/proofgate/mean`.

One call holds several prompts' groups: the completions are split by the statement column and
each statement's group is one request.

With `reward_log=` (a path or a `proofgate.rewards.log.RewardLog`) every call appends its records
to that NDJSON log, each line with the trainer's step (`trainer_state.global_step`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from proofgate.models.rewards import RewardRecord
from proofgate.rewards.log import RewardLog, RewardLogArg, open_reward_log
from proofgate.rewards.scorer import Scorer, group_metrics

__all__ = ["completion_text", "trl_reward", "trl_reward_blocking"]

TrlReward = Callable[..., Awaitable[list[float | None]]]
TrlRewardBlocking = Callable[..., list[float | None]]


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """A TRL completion as text: a string as it is; a message list's assistant contents, in order
    (a content may itself be a list of `{"type": "text", "text"}` parts)."""
    if isinstance(completion, str):
        return completion
    texts = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, Mapping) and part.get("type", "text") == "text"
            )
    return "\n".join(texts)


def _groups(statements: Sequence[str]) -> dict[str, list[int]]:
    """The completions' indices by statement, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, statement in enumerate(statements):
        groups.setdefault(statement, []).append(index)
    return groups


def _statements(kwargs: Mapping[str, Any], column: str, count: int) -> list[str]:
    values = kwargs.get(column)
    if values is None:
        columns = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric"))
        raise KeyError(
            f"the dataset has no {column!r} column to read the locked statement from (its columns: "
            f"{', '.join(columns) or 'none'}): add one, or pass statement_column= to trl_reward"
        )
    if isinstance(values, str) or len(values) != count:
        raise ValueError(f"the {column!r} column must hold one statement per completion ({count})")
    return [str(value) for value in values]


def _split(
    completions: Sequence[str | Sequence[Mapping[str, Any]]], kwargs: Mapping[str, Any], column: str
) -> tuple[list[str], dict[str, list[int]]]:
    """The completions as text, and their indices by the statement in `column` (one request each)."""
    texts = [completion_text(completion) for completion in completions]
    return texts, _groups(_statements(kwargs, column, len(texts)))


def _report(
    records: list[RewardRecord], kwargs: Mapping[str, Any], name: str
) -> list[float | None]:
    """The rewards, with metrics through `log_metric` and status/cheat columns through `log_extra`
    when the trainer passes them."""
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):
        for metric, value in group_metrics(records, prefix=f"{name}/").items():
            log_metric(metric, value)
    log_extra = kwargs.get("log_extra")
    if callable(log_extra):
        log_extra(f"{name}_status", [record.status.value for record in records])
        log_extra(f"{name}_cheat", [record.cheat or "" for record in records])
    return [record.reward for record in records]


def _trainer_step(kwargs: Mapping[str, Any]) -> int | None:
    """The step TRL is at: `trainer_state.global_step` (transformers' `TrainerState`)."""
    step = getattr(kwargs.get("trainer_state"), "global_step", None)
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _log(
    log: RewardLog | None,
    records: Sequence[RewardRecord],
    groups: Mapping[str, list[int]],
    kwargs: Mapping[str, Any],
    scorer: Scorer,
) -> None:
    """Append the call's records, in order, to the reward log (if there is one)."""
    if log is None:
        return
    statements = [""] * len(records)
    for statement, indices in groups.items():
        for index in indices:
            statements[index] = statement
    log.write(
        records,
        statements,
        adapter="trl",
        environment=scorer.environment,
        step=_trainer_step(kwargs),
    )


def _ordered(parts: list[tuple[list[int], list[RewardRecord]]], count: int) -> list[RewardRecord]:
    ordered: list[RewardRecord | None] = [None] * count
    for indices, records in parts:
        for index, record in zip(indices, records, strict=True):
            ordered[index] = record.model_copy(update={"index": index})
    assert all(record is not None for record in ordered)
    return [record for record in ordered if record is not None]


def trl_reward(
    scorer: Scorer,
    *,
    statement_column: str = "statement",
    name: str = "proofgate",
    reward_log: RewardLogArg = None,
) -> TrlReward:
    """An async TRL reward function (`name` is its `__name__`): each completion's proofgate
    reward against the statement in its row's `statement_column`, None (NaN) to retry; every
    record appended to `reward_log` (a path, opened now: ConfigError if it cannot be written)."""
    log = open_reward_log(reward_log)

    async def reward(
        prompts: Sequence[Any],
        completions: Sequence[str | Sequence[Mapping[str, Any]]],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        texts, groups = _split(completions, kwargs, statement_column)
        answers = await asyncio.gather(
            *(scorer.score(statement, [texts[i] for i in idx]) for statement, idx in groups.items())
        )
        records = _ordered(list(zip(groups.values(), answers, strict=True)), len(texts))
        _log(log, records, groups, kwargs, scorer)
        return _report(records, kwargs, name)

    reward.__name__ = reward.__qualname__ = name
    return reward


def trl_reward_blocking(
    scorer: Scorer,
    *,
    statement_column: str = "statement",
    name: str = "proofgate",
    reward_log: RewardLogArg = None,
) -> TrlRewardBlocking:
    """`trl_reward` as a plain function, for a server scorer (`Scorer(url)`): the statements'
    groups are sent one after another through the blocking client."""
    log = open_reward_log(reward_log)

    def reward(
        prompts: Sequence[Any],
        completions: Sequence[str | Sequence[Mapping[str, Any]]],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        texts, groups = _split(completions, kwargs, statement_column)
        parts = [
            (idx, scorer.score_blocking(statement, [texts[i] for i in idx]))
            for statement, idx in groups.items()
        ]
        records = _ordered(parts, len(texts))
        _log(log, records, groups, kwargs, scorer)
        return _report(records, kwargs, name)

    reward.__name__ = reward.__qualname__ = name
    return reward
