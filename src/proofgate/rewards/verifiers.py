"""verifiers (`verifiers.v1`): a reward for a `Task`, per trace, coalesced into groups.

Written against PrimeIntellect-ai/verifiers: `verifiers/v1/task.py` (`Task.score` calls each
`@vf.reward` and `@vf.metric` with the arguments it names out of `task` (the `TaskData`), `trace`
and `runtime`, all of a trace's at once; a float is recorded as the reward of the function's
name, a mapping as one reward per key) and `verifiers/v1/trace.py` (`Trace.last_reply`, the
last model response as text; `Trace.record_metric(name, value)`; `Trace.info`, a scratch dict).
Rewards are per trace, and a group's traces are scored concurrently: the calls that share a
statement are coalesced into one group request. With `reward_log=` each group's records are
appended to that NDJSON log; verifiers passes a reward no step, so a line's `step` is the log's
`step` attribute (None unless set) and its `call` counts the groups.

    scorer = Scorer("http://127.0.0.1:8000")
    proofgate_reward = verifiers_reward(scorer, statement_field="formal_statement")

    class ProverTask(vf.Task[LeanData, vf.State]):
        @vf.reward
        async def proofgate(self, task: LeanData, trace: vf.Trace) -> float:
            return await proofgate_reward(task, trace)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from proofgate.models.rewards import RewardRecord
from proofgate.rewards.coalesce import Coalescer
from proofgate.rewards.log import RewardLogArg, open_reward_log
from proofgate.rewards.scorer import Scorer

__all__ = ["verifiers_reward"]

VerifiersReward = Callable[[Any, Any], Awaitable[float]]


def _statement(task: Any, field: str) -> str:
    value = task.get(field) if isinstance(task, Mapping) else getattr(task, field, None)
    if not isinstance(value, str) or not value:
        raise KeyError(
            f"the task data has no {field!r} to read the locked statement from: add the field, "
            "or pass statement_field= to verifiers_reward"
        )
    return value


def verifiers_reward(
    scorer: Scorer,
    *,
    statement_field: str = "formal_statement",
    group_size: int | None = None,
    linger: float = 0.05,
    unfinished: float = 0.0,
    name: str = "proofgate",
    reward_log: RewardLogArg = None,
) -> VerifiersReward:
    """An async `(task, trace) -> float`: the trace's last reply rewarded against the task's
    statement. It records `<name>_proved`, `<name>_cheat`, `<name>_no_proof` and `<name>_retry`
    (0 or 1) with `trace.record_metric`, and the record in `trace.info[name]`. A check that did
    not finish scores `unfinished` (verifiers needs a number). Each group's records are appended
    to `reward_log` (a path, opened now: ConfigError if it cannot be written)."""
    log = open_reward_log(reward_log)

    async def flush(statement: str, completions: Sequence[str]) -> list[RewardRecord]:
        records = await scorer.score(statement, completions)
        if log is not None:
            log.write(records, statement, adapter="verifiers", environment=scorer.environment)
        return records

    coalescer: Coalescer[str] = Coalescer(flush, group_size=group_size, linger=linger)

    async def reward(task: Any, trace: Any) -> float:
        record = await coalescer.submit(_statement(task, statement_field), str(trace.last_reply))
        trace.record_metric(f"{name}_proved", float(record.proved))
        trace.record_metric(f"{name}_cheat", float(record.cheat is not None))
        trace.record_metric(f"{name}_no_proof", float(record.status.value == "no_proof"))
        trace.record_metric(f"{name}_retry", float(record.retry))
        trace.info[name] = record.model_dump(mode="json", exclude={"index"})
        return unfinished if record.reward is None else record.reward

    reward.__name__ = reward.__qualname__ = name
    return reward
