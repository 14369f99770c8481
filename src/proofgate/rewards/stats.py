"""What reward serving on Ray counts: each group's figures (from the actor that scored it) and the
router's totals (`proofgate bench --rewards` reports them).

A group's Lean time is the union of its checks' REPL runs and audits (`busy_seconds`): the time at
least one of its completions was in Lean. What the group took beyond it is proofgate's, Ray's and
the wait for a worker held by another group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GroupStats", "RouterStats", "busy_seconds"]


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """The length of the union of `(start, end)` intervals."""
    total = 0.0
    reach: float | None = None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


@dataclass(frozen=True)
class GroupStats:
    """One group as its actor scored it: completions, distinct checks among them, checks the
    result cache answered, seconds in Lean (union) and seconds in the actor."""

    completions: int
    checks: int
    cached: int
    lean_seconds: float
    actor_seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupStats:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass
class RouterStats:
    """The router's totals since it started."""

    groups: int = 0
    completions: int = 0  # records delivered (each (group, index) once)
    scored: int = 0  # completions the actors were sent (reruns included)
    checks: int = 0  # distinct submissions among them
    cached: int = 0  # checks answered from an actor's result cache
    lean_seconds: float = 0.0  # the groups' Lean time (each group's union)
    group_seconds: float = 0.0  # the groups' wall time at the router
    spills: int = 0  # groups sent past their preferred actor, which was full
    reruns: int = 0  # group runs repeated on another actor after one died
    rerun_completions: int = 0
    actors_lost: int = 0
    duplicates_dropped: int = 0  # records for a (group, index) that already had one
    resent_groups: int = 0  # calls with a group id already finished or running

    def add(self, group: GroupStats) -> None:
        self.scored += group.completions
        self.checks += group.checks
        self.cached += group.cached

    def rates(self) -> dict[str, float | None]:
        """Dedupe rate (completions not checked because an identical one in the group was),
        cache hit rate (of the checks), and the share of group time outside Lean."""
        return {
            "dedupe_rate": 1 - self.checks / self.scored if self.scored else None,
            "cache_hit_rate": self.cached / self.checks if self.checks else None,
            "outside_lean_share": (
                1 - self.lean_seconds / self.group_seconds if self.group_seconds else None
            ),
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), **self.rates()}
