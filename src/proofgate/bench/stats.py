"""Small statistics for the bench: percentiles and the work done inside a time window."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["busy_seconds_in_window", "latency_summary", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p90/p99/max/mean in milliseconds, and the count."""
    if not seconds:
        return {"count": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
    }


def busy_seconds_in_window(
    intervals: Iterable[tuple[float, float]], start: float, end: float
) -> float:
    """Total length of `(begin, finish)` intervals that falls inside `[start, end]`."""
    total = 0.0
    for begin, finish in intervals:
        total += max(0.0, min(finish, end) - max(begin, start))
    return total
