"""Rewards on a local two-node Ray cluster (127.0.0.1 only, usage stats off, no dashboard), one
stand-in service per node: TRL's reward function pointed at the router scores groups of several
statements on both actors; one actor killed mid-group, its groups' unrewarded completions rerun on
the other, and every completion rewarded exactly once. Skips only where Ray cannot be imported."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from proofgate.models.rewards import RewardRecord
from proofgate.rewards.ray import RewardRouter
from proofgate.rewards.ray_local import local_cluster
from proofgate.rewards.scorer import Scorer
from proofgate.rewards.trl import trl_reward
from tests.rewards.adapters import CHEAT, PROSE, fenced
from tests.rewards.ray_stack import reward_actor_service

ROOT = Path(__file__).resolve().parents[2]
STATEMENTS = [
    f"import Mathlib\nopen Nat\n\ntheorem t{n} (a b : ℕ) : a + b + {n} = b + a + {n} := by sorry\n"
    for n in range(6)
]
GROUP = 8
#: Records delivered before the kill (of 96): the run is well under way, far from done.
KILL_AFTER = 12


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    pytest.importorskip("ray", reason="Ray is not installed here (the `ray` extra)")
    # A cluster that cannot start is an error, not a skip: only a missing Ray skips.
    with local_cluster(2, cpus_per_node=1, env_vars={"PYTHONPATH": str(ROOT)}) as started:
        yield started


def _group(statement: int) -> tuple[list[str], list[float]]:
    """A statement's sampled completions and their rewards: proofs that take 0.2 s each (one
    sent twice), a native_decide cheat, prose."""
    proofs = [
        fenced(f"by\n  -- standin: sleep 0.2\n  omega -- {statement}.{k}") for k in range(GROUP - 3)
    ]
    completions = [*proofs, proofs[0], CHEAT, PROSE]
    return completions, [1.0] * (GROUP - 2) + [0.0, 0.0]


def _tagged(tag: str) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if tag in " ".join(process.info.get("cmdline") or []) and (
            process.info.get("status") != psutil.STATUS_ZOMBIE
        ):
            found.append(process.pid)
    return found


@pytest.mark.timeout(120)
async def test_groups_spread_over_two_nodes_and_a_killed_actor_loses_nothing(
    cluster: Any, tmp_path: Path
) -> None:
    import ray

    tag = f"rayreward-{uuid.uuid4().hex[:8]}"
    delivered: Counter[tuple[str, int]] = Counter()
    killed: list[str] = []
    router: RewardRouter

    def on_record(group_id: str, record: RewardRecord) -> None:
        delivered[group_id, record.index] += 1
        of_group = sum(1 for gid, _ in delivered if gid == group_id)
        # kill the actor scoring a group that has one record of eight: seven must be rerun
        if not killed and len(delivered) >= KILL_AFTER and of_group == 1:
            ray.kill(router.actor_of(group_id))
            killed.append(group_id)

    router = RewardRouter(
        service_factory=functools.partial(reward_actor_service, str(tmp_path), tag),
        max_groups=2,
        on_record=on_record,
        replace_lost=False,  # the survivor must take every rerun
    )
    await router.start()
    try:
        assert len({actor["node_id"] for actor in router.actors()}) == 2
        reward = trl_reward(Scorer(router=router))
        calls = [[_group(s) for s in statements] for statements in ([0, 1, 2], [3, 4, 5])]
        step_answers = await asyncio.gather(
            *(
                reward(
                    prompts=["p"] * GROUP * len(groups),
                    completions=[c for completions, _ in groups for c in completions],
                    completion_ids=[[1]] * GROUP * len(groups),
                    statement=[STATEMENTS[s] for s in statements for _ in range(GROUP)],
                    trainer_state=None,
                )
                for statements, groups in zip(([0, 1, 2], [3, 4, 5]), calls, strict=True)
            )
        )
        for answer, groups in zip(step_answers, calls, strict=True):
            assert answer == [r for _, rewards in groups for r in rewards]
        assert killed, "the run ended before an actor could be killed"
        assert len(delivered) == len(STATEMENTS) * GROUP
        assert set(delivered.values()) == {1}, "a completion was rewarded twice"
        stats = router.stats
        assert stats.actors_lost == 1 and stats.reruns >= 1 and stats.rerun_completions >= 7
        served = {actor["number"]: actor["groups"] for actor in router.actors()}
        assert len(served) == 2 and all(served.values()), f"a node got no group: {served}"
        assert (
            stats.rates()["dedupe_rate"] or 0
        ) > 0  # the proof sent twice in each group was checked once
    finally:
        await router.close()
    deadline = time.monotonic() + 10
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not left, f"stand-in REPLs of the reward actors outlived the run: {left}"
