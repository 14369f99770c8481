"""`proofgate.rewards.verifiers`, called as `verifiers.v1`'s `Task.score` calls a `@vf.reward`
(PrimeIntellect-ai/verifiers, verifiers/v1/task.py: by the names it takes out of `task`, `trace`,
`runtime`; a group's traces are scored concurrently) on a trace as verifiers/v1/trace.py has it
(`last_reply`, `record_metric`, `info`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from proofgate.rewards import Scorer
from proofgate.rewards.verifiers import verifiers_reward
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A
from tests.support.stack import Stack, running_service

pytestmark = pytest.mark.timeout(120)


class LeanData(BaseModel):
    """Stands in for a `vf.TaskData` subclass (frozen pydantic, the statement a field)."""

    model_config = ConfigDict(frozen=True)

    idx: int | None = None
    formal_statement: str


class Trace(BaseModel):
    """Stands in for `vf.Trace`: the parts a reward reads and writes."""

    reply: str
    metrics: dict[str, float | None] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def last_reply(self) -> str:
        return self.reply.strip()

    def record_metric(self, name: str, value: float) -> None:
        self.metrics[name] = float(value)


def invoke(fn: Any, available: dict[str, Any]) -> Any:
    """As verifiers' `invoke`: pass the arguments the function names."""
    import inspect

    names = inspect.signature(fn).parameters
    return fn(**{name: available[name] for name in names if name in available})


async def test_a_groups_traces_are_rewarded_as_one_group(stack: Stack) -> None:
    data = LeanData(idx=0, formal_statement=STATEMENT_A)
    traces = [Trace(reply=reply) for reply in (PROVED, CHEAT, PROSE)]
    async with running_service(stack) as service:
        reward = verifiers_reward(Scorer(service=service), group_size=3, linger=60.0)
        assert reward.__name__ == "proofgate"
        scores = await asyncio.gather(
            *(invoke(reward, {"task": data, "trace": trace}) for trace in traces)
        )
    assert scores == [1.0, 0.0, 0.0]
    assert traces[0].metrics == {
        "proofgate_proved": 1.0,
        "proofgate_cheat": 0.0,
        "proofgate_no_proof": 0.0,
        "proofgate_retry": 0.0,
    }
    assert traces[1].metrics["proofgate_cheat"] == 1.0
    assert traces[1].info["proofgate"]["cheat"] == "native_code"
    assert traces[2].metrics["proofgate_no_proof"] == 1.0


async def test_task_data_without_the_statement_field_says_which(stack: Stack) -> None:
    async with running_service(stack) as service:
        reward = verifiers_reward(Scorer(service=service), statement_field="statement")
        with pytest.raises(KeyError, match="'statement'"):
            await reward(LeanData(formal_statement=STATEMENT_A), Trace(reply=PROVED))
