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

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict, TypeVar

from typing_extensions import Unpack

from proofgate.models.rewards import RewardRecord
from proofgate.rewards.log import RewardLogArg, open_reward_log
from proofgate.rewards.scorer import Scorer, group_metrics

__all__ = ["TrlOptions", "completion_text", "trl_reward", "trl_reward_blocking"]

TrlReward = Callable[..., Awaitable[list[float | None]]]
TrlRewardBlocking = Callable[..., list[float | None]]
_F = TypeVar("_F", TrlReward, TrlRewardBlocking)


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


#: What TRL itself passes besides the dataset's columns.
_TRL_KEYWORDS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"}
)


class TrlOptions(TypedDict, total=False):
    """What `trl_reward` and `trl_reward_blocking` take besides the scorer."""

    #: The dataset column holding each row's locked statement (default `statement`).
    statement_column: str
    #: The function's `__name__`, which TRL logs its mean under (default `proofgate`).
    name: str
    #: A reward log (a path, opened at once: ConfigError if it cannot be written) every
    #: call's records are appended to, with the trainer's step (default: none).
    reward_log: RewardLogArg


class _Adapter:
    """What the async and the blocking reward functions share: reading TRL's call (by keyword:
    `prompts`, `completions`, `completion_ids`, `trainer_state`, `log_extra`, `log_metric` and
    every other dataset column) and answering it."""

    def __init__(self, scorer: Scorer, options: TrlOptions) -> None:
        self.scorer = scorer
        self.column = options.get("statement_column", "statement")
        self.name = options.get("name", "proofgate")
        self.log = open_reward_log(options.get("reward_log"))

    def read(self, call: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """The call's statements and its completions as text, one each per completion."""
        texts = [completion_text(completion) for completion in call["completions"]]
        values = call.get(self.column)
        if values is None:
            columns = sorted(k for k in call if k not in _TRL_KEYWORDS)
            raise KeyError(
                f"the dataset has no {self.column!r} column to read the locked statement from (its "
                f"columns: {', '.join(columns) or 'none'}): add one, or pass statement_column= to "
                "trl_reward"
            )
        if isinstance(values, str) or len(values) != len(texts):
            raise ValueError(
                f"the {self.column!r} column must hold one statement per completion ({len(texts)})"
            )
        return [str(value) for value in values], texts

    def answer(
        self, statements: list[str], records: list[RewardRecord], call: Mapping[str, Any]
    ) -> list[float | None]:
        """The rewards; the records go to the reward log, metrics through `log_metric` and
        status/cheat columns through `log_extra` when the trainer passes them."""
        if self.log is not None:
            self.log.write(
                records,
                statements,
                adapter="trl",
                environment=self.scorer.environment,
                step=_trainer_step(call),
            )
        log_metric = call.get("log_metric")
        if callable(log_metric):
            for metric, value in group_metrics(records, prefix=f"{self.name}/").items():
                log_metric(metric, value)
        log_extra = call.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.name}_status", [record.status.value for record in records])
            log_extra(f"{self.name}_cheat", [record.cheat or "" for record in records])
        return [record.reward for record in records]

    def named(self, function: _F) -> _F:
        function.__name__ = function.__qualname__ = self.name
        return function


def _trainer_step(call: Mapping[str, Any]) -> int | None:
    """The step TRL is at: `trainer_state.global_step` (transformers' `TrainerState`)."""
    step = getattr(call.get("trainer_state"), "global_step", None)
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def trl_reward(scorer: Scorer, **options: Unpack[TrlOptions]) -> TrlReward:
    """An async TRL reward function: each completion's proofgate reward against the statement in
    its row's `statement_column`, None (NaN) to retry; each statement's completions are one
    group, the groups scored at once."""
    adapter = _Adapter(scorer, options)

    async def reward(**call: Any) -> list[float | None]:
        statements, texts = adapter.read(call)
        return adapter.answer(statements, await scorer.score_each(statements, texts), call)

    return adapter.named(reward)


def trl_reward_blocking(scorer: Scorer, **options: Unpack[TrlOptions]) -> TrlRewardBlocking:
    """`trl_reward` as a plain function, for a server scorer (`Scorer(url)`): the statements'
    groups are sent one after another through the blocking client."""
    adapter = _Adapter(scorer, options)

    def reward(**call: Any) -> list[float | None]:
        statements, texts = adapter.read(call)
        return adapter.answer(statements, scorer.score_each_blocking(statements, texts), call)

    return adapter.named(reward)
