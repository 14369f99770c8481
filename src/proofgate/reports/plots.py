"""The failure-mode report's charts, as PNG bytes, drawn on `reports.drawing`'s figures
(matplotlib, the `report` extra)."""

from __future__ import annotations

import math
from typing import Any

from proofgate.reports.drawing import new_figure, png, style_axes
from proofgate.reports.failures import FailureSummary

__all__ = ["OUTCOME_COLOURS", "colour_of", "draw_all"]

OUTCOME_COLOURS = {
    "proved": "#2e7d32",
    "compiled": "#43a047",
    "incomplete": "#f9a825",
    "failed": "#c62828",
    "statement_mismatch": "#6a1b9a",
    "axiom_violation": "#8e24aa",
    "rejected": "#ad1457",
    "timeout": "#616161",
    "out_of_memory": "#757575",
    "internal": "#9e9e9e",
}
_ERROR_COLOUR = "#78909c"
_BAR_COLOUR = "#1565c0"


def colour_of(outcome: str) -> str:
    return OUTCOME_COLOURS.get(outcome, _ERROR_COLOUR)


def _figure(width: float, height: float) -> tuple[Any, Any]:
    figure = new_figure(width, height, drawing="the failure report")
    return figure, figure.add_subplot()


def _empty(axes: Any, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555")
    axes.set_axis_off()


def _label_bars(axes: Any, bars: Any, labels: list[str], *, horizontal: bool) -> None:
    """Write each bar's label just past its end."""
    for bar, label in zip(bars, labels, strict=True):
        if horizontal:
            end = (bar.get_width(), bar.get_y() + bar.get_height() / 2)
            offset, align = (4, 0), {"va": "center"}
        else:
            end = (bar.get_x() + bar.get_width() / 2, bar.get_height())
            offset, align = (0, 3), {"ha": "center"}
        axes.annotate(label, end, xytext=offset, textcoords="offset points", fontsize=9, **align)


def _horizontal_bars(
    title: str, counts: list[tuple[str, int]], colours: list[str], total: int, empty: str
) -> bytes:
    height = max(2.2, 0.42 * len(counts) + 1.1)
    figure, axes = _figure(9.0, height)
    axes.set_title(title, loc="left", fontsize=12, fontweight="bold")
    if not counts:
        _empty(axes, empty)
        return png(figure)
    labels = [name for name, _ in counts][::-1]
    values = [count for _, count in counts][::-1]
    bars = axes.barh(labels, values, color=colours[::-1], height=0.65)
    shown = [f"{value} ({100 * value / total:.1f}%)" if total else str(value) for value in values]
    _label_bars(axes, bars, shown, horizontal=True)
    axes.set_xlim(0, max(values) * 1.25)
    axes.set_xlabel("items")
    style_axes(axes, grid="x")
    return png(figure)


def draw_outcomes(summary: FailureSummary) -> bytes:
    counts = summary.outcomes.most_common()
    return _horizontal_bars(
        "Verdicts and item errors",
        counts,
        [colour_of(name) for name, _ in counts],
        summary.total,
        "no records",
    )


def draw_categories(summary: FailureSummary) -> bytes:
    counts = summary.categories.most_common(12)
    return _horizontal_bars(
        "Error categories (items with at least one error of the category)",
        counts,
        [_BAR_COLOUR] * len(counts),
        summary.verdicts,
        "no Lean errors in this batch",
    )


def draw_times(summary: FailureSummary) -> bytes:
    figure, axes = _figure(9.0, 3.4)
    axes.set_title("Time per check (log scale)", loc="left", fontsize=12, fontweight="bold")
    groups = sorted(summary.seconds.items(), key=lambda item: -len(item[1]))
    values = [max(v, 1e-3) for _, times in groups for v in times]
    if not values:
        _empty(axes, "no checks ran (every verdict came from the cache)")
        return png(figure)
    low, high = math.log10(min(values)), math.log10(max(values))
    if high - low < 1:
        low, high = low - 0.5, high + 0.5
    edges = [10 ** (low + (high - low) * step / 30) for step in range(31)]
    axes.hist(
        [[max(v, 1e-3) for v in times] for _, times in groups],
        bins=edges,
        stacked=True,
        label=[f"{status} ({len(times)})" for status, times in groups],
        color=[colour_of(status) for status, _ in groups],
    )
    axes.set_xscale("log")
    left_out = f"; {summary.cached} cache hits left out" if summary.cached else ""
    axes.set_xlabel(f"seconds, total per check{left_out}")
    axes.set_ylabel("checks")
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(axes, grid="x")
    return png(figure)


def draw_attempts(summary: FailureSummary) -> bytes:
    figure, axes = _figure(9.0, 2.8)
    axes.set_title("Checks started per item (retries)", loc="left", fontsize=12, fontweight="bold")
    if not summary.attempts:
        _empty(axes, "no records")
        return png(figure)
    tries = sorted(summary.attempts)
    counts = [summary.attempts[t] for t in tries]
    colours = ["#9e9e9e" if t == 0 else (_BAR_COLOUR if t == 1 else "#ef6c00") for t in tries]
    bars = axes.bar([str(t) for t in tries], counts, color=colours, width=0.6)
    _label_bars(axes, bars, [str(count) for count in counts], horizontal=False)
    axes.set_ylim(0, max(counts) * 1.2)
    axes.set_xlabel("checks started (0: a bad input line, never checked; 2+: retried)")
    axes.set_ylabel("items")
    style_axes(axes, grid="y")
    return png(figure)


def draw_all(summary: FailureSummary) -> dict[str, bytes]:
    """Every chart, by file name."""
    return {
        "outcomes.png": draw_outcomes(summary),
        "categories.png": draw_categories(summary),
        "times.png": draw_times(summary),
        "attempts.png": draw_attempts(summary),
    }
