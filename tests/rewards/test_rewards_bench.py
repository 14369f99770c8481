"""`proofgate bench --rewards`'s workload and verdict on its target, without running it: the
REPL time it counts as the ideal's is exactly that of the distinct completions it drew."""

from __future__ import annotations

import re

from proofgate.bench.rewards_bench import GroupStream, RewardsBenchConfig, target_met

SLEEP = re.compile(r"-- standin: sleep ([0-9.]+)")


def test_the_ideal_counts_each_distinct_completion_once() -> None:
    config = RewardsBenchConfig(statements=2, duplicate_share=0.3, repeat_share=0.3, seed=7)
    stream = GroupStream(config, "t")
    groups = [stream.next(16) for _ in range(6)]
    everything = [c for g in groups for c in g.completions]
    distinct = set(everything)
    assert stream.completions == len(everything) == 96
    assert len(distinct) < 96  # duplicates within groups and repeats across them
    repeated = [c for g in groups[2:] for c in g.completions if any(
        c in earlier.completions for earlier in groups[:2] if earlier.statement == g.statement
    )]  # fmt: skip
    assert repeated, "no completion repeats an earlier group's answer to its statement"
    drawn = sum(float(m.group(1)) for c in distinct for m in SLEEP.finditer(c))
    assert abs(stream.lean_seconds - drawn) < 1e-6
    assert {g.statement for g in groups} == {stream.statement(0), stream.statement(1)}


def test_the_target_is_group_16_on_four_workers() -> None:
    def results(of_ideal: float, workers: int = 4) -> dict[str, object]:
        point = {"group_size": 16, "workers": workers, "of_ideal": of_ideal}
        return {"group_sizes": [{"group_size": 8, "workers": 4, "of_ideal": 0.5}, point]}

    assert target_met(results(0.96)) is True
    assert target_met(results(0.94)) is False
    assert target_met(results(0.99, workers=2)) is None


def test_a_completion_holds_a_worker_only_when_it_was_checked() -> None:
    from proofgate.models.rewards import RewardRecord, RewardStatus

    stream = GroupStream(RewardsBenchConfig(duplicate_share=0.5, repeat_share=0.0, seed=3), "w")
    request = stream.next(16)
    texts = request.completions

    def record(index: int, *, cached: bool = False) -> RewardRecord:
        return RewardRecord(
            index=index, reward=1.0, status=RewardStatus.proved, proved=True, compiled=True,
            cached=cached,
        )  # fmt: skip

    copy = next(i for i, text in enumerate(texts) if texts.index(text) != i)
    first = texts.index(texts[copy])
    assert stream.worker_seconds(request, record(first)) == stream.seconds_of[texts[first]] > 0
    assert stream.worker_seconds(request, record(copy)) == 0.0  # checked once, with the first
    assert stream.worker_seconds(request, record(first, cached=True)) == 0.0
