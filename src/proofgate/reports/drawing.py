"""The reports' drawing surface: a matplotlib figure on the Agg canvas, the house style of its
axes, and its PNG bytes. The failure report's charts (`plots`) and the reward log's plot
(`reward_log`) each draw on one.

matplotlib is the `report` extra. The object API (`Figure` on `FigureCanvasAgg`) is used instead
of pyplot, so nothing global is touched and no display is needed.
"""

from __future__ import annotations

import io
from typing import Any

from proofgate.exceptions import ConfigError

__all__ = ["new_figure", "png", "style_axes"]

_DPI = 110


def new_figure(width: float, height: float, *, drawing: str) -> Any:
    """An empty figure `width` by `height` inches; without matplotlib, a `ConfigError` saying
    that `drawing` (what the caller draws) needs the `report` extra."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ConfigError(
            f"{drawing} draws with matplotlib: install the `report` extra "
            "(pip install 'proofgate[report]')"
        ) from exc
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def style_axes(axes: Any, *, grid: str) -> None:
    """No top or right frame; light grid lines along `grid` ("x" or "y"), behind the data."""
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis=grid, color="#e0e0e0", linewidth=0.8)
    axes.set_axisbelow(True)


def png(figure: Any) -> bytes:
    """The figure as PNG bytes, on white."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
