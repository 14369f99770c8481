"""verl: a `compute_score` for `custom_reward_function.path=... custom_reward_function.name=...`.

Written against volcengine/verl: `verl/trainer/ppo/reward.py` (`get_custom_reward_fn` loads the
named object from the file and, when `inspect.iscoroutinefunction` holds, awaits it with the
config's `reward_kwargs` merged into its keywords) and
`verl/experimental/reward_loop/reward_manager/naive.py` (`run_single`, once per sample:
`compute_score(data_source=..., solution_str=<decoded response>, ground_truth=<the row's
reward_model.ground_truth>, extra_info=<the row's extra_info>, **extra)`; a float result is the
score, a dict's `"score"` is and its other keys become reward extra info; a sync function runs in
the loop's thread pool). The reward loop starts every sample of a batch at once
(`RewardLoopWorker.compute_score_batch`), so the async function coalesces the calls that share a
ground truth into one group request.

The ground truth is the locked statement; `extra_info` may name an `environment`.

With `reward_log=` every scored group (or, blocking, every call) is appended to that NDJSON log.
verl passes a reward function no step: a line's `step` is the log's `step` attribute (None unless
set), and its `call` counts the groups.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from proofgate.models.rewards import RewardRecord
from proofgate.rewards.coalesce import Coalescer
from proofgate.rewards.log import RewardLogArg, open_reward_log
from proofgate.rewards.scorer import Scorer

__all__ = ["verl_compute_score", "verl_compute_score_blocking", "verl_result"]

VerlScore = Callable[..., Awaitable[dict[str, Any]]]
VerlScoreBlocking = Callable[..., dict[str, Any]]


def verl_result(record: RewardRecord, *, unfinished: float = 0.0) -> dict[str, Any]:
    """A record as verl's result dict: `score` (`unfinished` when the check did not finish: verl
    needs a number), and `proved`, `retry`, `status`, `cheat` ("" for none) as extra info."""
    return {
        "score": unfinished if record.reward is None else record.reward,
        "proved": float(record.proved),
        "retry": float(record.retry),
        "status": record.status.value,
        "cheat": record.cheat or "",
    }


def _environment(scorer: Scorer, extra_info: Mapping[str, Any] | None) -> str:
    value = (extra_info or {}).get("environment")
    return str(value) if value else scorer.environment


def verl_compute_score(
    scorer: Scorer,
    *,
    group_size: int | None = None,
    linger: float = 0.05,
    unfinished: float = 0.0,
    reward_log: RewardLogArg = None,
) -> VerlScore:
    """An async `compute_score`: concurrent calls for one statement are scored as one group of up
    to `group_size` (e.g. `actor_rollout_ref.rollout.n`), or of whatever arrived within `linger`
    seconds of the first. Each group's records are appended to `reward_log` (a path, opened now:
    ConfigError if it cannot be written)."""
    log = open_reward_log(reward_log)

    async def flush(key: tuple[str, str], completions: Sequence[str]) -> list[RewardRecord]:
        statement, environment = key
        records = await scorer.score(statement, completions, environment=environment)
        if log is not None:
            log.write(records, statement, adapter="verl", environment=environment)
        return records

    coalescer: Coalescer[tuple[str, str]] = Coalescer(flush, group_size=group_size, linger=linger)

    async def compute_score(
        data_source: str,
        solution_str: str,
        ground_truth: str,
        extra_info: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        key = (str(ground_truth), _environment(scorer, extra_info))
        record = await coalescer.submit(key, solution_str)
        return verl_result(record, unfinished=unfinished)

    return compute_score


def verl_compute_score_blocking(
    scorer: Scorer, *, unfinished: float = 0.0, reward_log: RewardLogArg = None
) -> VerlScoreBlocking:
    """A plain `compute_score` for a server scorer: one request per call (no coalescing: verl runs
    it in threads), its record appended to `reward_log`. Prefer `verl_compute_score`."""
    log = open_reward_log(reward_log)

    def compute_score(
        data_source: str,
        solution_str: str,
        ground_truth: str,
        extra_info: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        environment = _environment(scorer, extra_info)
        (record,) = scorer.score_blocking(
            str(ground_truth), [solution_str], environment=environment
        )
        if log is not None:
            log.write([record], str(ground_truth), adapter="verl", environment=environment)
        return verl_result(record, unfinished=unfinished)

    return compute_score
