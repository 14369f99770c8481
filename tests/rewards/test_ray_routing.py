"""The reward router's choices without Ray: fake actors answer at once (or die on cue), so
statement affinity, the spill of a full actor, the rerun of a lost actor's unrewarded completions
and the once-only delivery of each (group, completion) are exact."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proofgate.exceptions import NotReady
from proofgate.models.rewards import RewardRecord, RewardRequest, RewardStatus
from proofgate.rewards.ray import RewardRouter, _Member, affinity_order, statement_key
from proofgate.rewards.stats import busy_seconds

pytestmark = pytest.mark.timeout(30)


class ActorDied(Exception):
    """Stands in for ray.exceptions.RayActorError."""


def _record(index: int, actor: str) -> str:
    return RewardRecord(
        index=index, reward=1.0, status=RewardStatus.proved, proved=True, compiled=True,
        reason=actor,
    ).model_dump_json()  # fmt: skip


class FakeActor:
    """Streams a proved record per completion; `dies_after` records it dies; `hold` keeps the
    stream open until set; `repeat` sends its first record twice."""

    def __init__(self, name: str, *, dies_after: int | None = None, repeat: bool = False) -> None:
        self.name = name
        self.dies_after = dies_after
        self.repeat = repeat
        self.hold: asyncio.Event | None = None
        self.received: list[list[str]] = []
        self.score = self  # handle.score.remote(...)

    def remote(self, request_json: str, concurrency: int) -> AsyncIterator[Any]:
        del concurrency
        completions = RewardRequest.model_validate_json(request_json).completions
        self.received.append(completions)
        return self._lines(len(completions))

    async def _lines(self, count: int) -> AsyncIterator[Any]:
        if self.hold is not None:
            await self.hold.wait()
        lines = [_record(i, self.name) for i in range(count)]
        if self.repeat:
            lines.insert(1, lines[0])
        for sent, line in enumerate(lines):
            if self.dies_after is not None and sent == self.dies_after:
                raise ActorDied(self.name)
            ref: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            ref.set_result(line)
            yield ref
        stats = {"completions": count, "checks": count, "cached": 0}
        ref = asyncio.get_running_loop().create_future()
        ref.set_result(json.dumps({"stats": {**stats, "lean_seconds": 0.1, "actor_seconds": 0.2}}))
        yield ref


class _Ray:
    def cancel(self, ref: Any) -> None: ...
    def kill(self, handle: Any) -> None: ...


def _router(*actors: FakeActor, **options: Any) -> tuple[RewardRouter, Counter[tuple[str, int]]]:
    delivered: Counter[tuple[str, int]] = Counter()

    def on_record(group_id: str, record: RewardRecord) -> None:
        delivered[group_id, record.index] += 1

    router = RewardRouter(on_record=on_record, replace_lost=False, **options)
    router._ray = _Ray()
    router._changed = asyncio.Condition()
    router._lost_errors = (ActorDied,)
    router._members = [
        _Member(actor, f"node-{actor.name}", number, workers=2)
        for number, actor in enumerate(actors, start=1)
    ]
    return router, delivered


def _request(statement: int, size: int = 8) -> RewardRequest:
    text = f"import Mathlib\n\ntheorem t{statement} : {statement} = {statement} := by sorry\n"
    return RewardRequest(statement=text, completions=[f"c{statement}.{k}" for k in range(size)])


def _preferred(router: RewardRouter, request: RewardRequest) -> str:
    ids = [m.node_id for m in router._members if m.alive]
    return affinity_order(statement_key(request), ids)[0].removeprefix("node-")


async def test_a_statement_keeps_its_actor_and_statements_spread() -> None:
    a, b = FakeActor("a"), FakeActor("b")
    router, _ = _router(a, b)
    for statement in range(12):
        for _ in range(2):  # sent again: the same actor, whose cache and envs are warm
            records = await router.score(_request(statement))
            assert {r.reason for r in records} == {_preferred(router, _request(statement))}
    assert a.received and b.received, "twelve statements all went to one actor"
    assert router.stats.spills == 0


def test_losing_an_actor_moves_only_its_own_statements() -> None:
    keys = [statement_key(_request(s)) for s in range(200)]
    before = {key: affinity_order(key, ["x", "y", "z"])[0] for key in keys}
    after = {key: affinity_order(key, ["x", "z"])[0] for key in keys}
    moved = [key for key in keys if before[key] != after[key]]
    assert moved and all(before[key] == "y" for key in moved)


async def test_a_full_actor_spills_to_the_least_loaded() -> None:
    a, b = FakeActor("a"), FakeActor("b")
    router, _ = _router(a, b, max_groups=1)
    request = _request(3)
    preferred, other = (a, b) if _preferred(router, request) == "a" else (b, a)
    preferred.hold = asyncio.Event()
    first = asyncio.create_task(router.score(request))
    while not preferred.received:
        await asyncio.sleep(0)
    second = await router.score(request)  # its preferred actor is full: the other one
    assert {r.reason for r in second} == {other.name} and router.stats.spills == 1
    preferred.hold.set()
    assert {r.reason for r in await first} == {preferred.name}


async def test_a_lost_actors_unrewarded_completions_are_rerun_once_each() -> None:
    dying, survivor = FakeActor("dying", dies_after=3), FakeActor("survivor")
    router, delivered = _router(dying, survivor)
    request = next(r for r in map(_request, range(50)) if _preferred(router, r) == "dying")
    records = await router.score(request, group_id="g")
    assert [r.index for r in records] == list(range(8))
    assert [r.reason for r in records] == ["dying"] * 3 + ["survivor"] * 5
    assert survivor.received == [request.completions[3:]]  # only what had no record
    assert set(delivered) == {("g", i) for i in range(8)} and set(delivered.values()) == {1}
    assert router.stats.reruns == 1 and router.stats.rerun_completions == 5
    assert router.stats.actors_lost == 1


async def test_a_second_record_for_a_completion_is_dropped() -> None:
    router, delivered = _router(FakeActor("a", repeat=True))
    records = await router.score(_request(1), group_id="g")
    assert len(records) == 8 and set(delivered.values()) == {1}
    assert router.stats.duplicates_dropped == 1


async def test_a_group_id_sent_again_is_not_rewarded_again() -> None:
    actor = FakeActor("a")
    router, delivered = _router(actor)
    first = await router.score(_request(1), group_id="g")
    again = await router.score(_request(1), group_id="g")
    assert again == first and len(actor.received) == 1
    assert sum(delivered.values()) == 8 and router.stats.resent_groups == 1


async def test_with_every_actor_lost_the_group_fails_loudly() -> None:
    router, delivered = _router(FakeActor("a", dies_after=2), FakeActor("b", dies_after=0))
    with pytest.raises(NotReady, match="every reward actor was lost"):
        await router.score(_request(1), group_id="g")
    assert sum(delivered.values()) == 2


def test_lean_time_is_the_union_of_the_checks() -> None:
    assert busy_seconds([(0, 2), (1, 3), (5, 6), (5.5, 5.8)]) == pytest.approx(4.0)
    assert busy_seconds([]) == 0.0
