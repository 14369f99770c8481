"""Busy slots reserved for waiting requests, per group: the pool's tenants and its environments.

A group (a tenant, an environment) may claim a busy slot for each of its waiting requests while it
holds fewer than `bound` busy workers. A request whose group has no claim left is handed only a
slot that the claims of the other groups leave free (`proofgate.lean.workers`): so a tenant over
its share yields freed slots to a tenant under it, and one environment's load never keeps another
from its minimum of workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["SlotClaims"]

_G = TypeVar("_G", bound=Hashable)


class SlotClaims(Generic[_G]):
    """The claims of the groups with waiting requests, kept up to date as slots are handed out."""

    def __init__(self, bound: int, *, held: Iterable[_G], waiting: Iterable[_G]) -> None:
        """`held`: the group of each busy worker; `waiting`: the group of each waiting request."""
        self.bound = bound
        self._held: Counter[_G] = Counter(held)
        self._waiting: Counter[_G] = Counter(waiting)
        self.total = sum(self.of(group) for group in self._waiting)

    def of(self, group: _G) -> int:
        """Busy slots `group`'s waiting requests may still claim."""
        return max(0, min(self._waiting[group], self.bound - self._held[group]))

    def allows(self, group: _G, free: int) -> bool:
        """Whether a request of `group` may take one of `free` slots: on its own claim, or on a
        slot no other group's claim is waiting for."""
        return self.of(group) > 0 or free > self.total

    def take(self, group: _G) -> None:
        """A request of `group` was handed a slot."""
        before = self.of(group)
        self._held[group] += 1
        self._waiting[group] -= 1
        self.total += self.of(group) - before
