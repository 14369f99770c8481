"""The reports' one drawing surface (`reports.drawing`): the failure report's charts and the
reward log's plot each get their figure, axes style and PNG bytes from it."""

from __future__ import annotations

import sys

import pytest

from proofgate.exceptions import ConfigError
from proofgate.reports.drawing import new_figure, png, style_axes
from proofgate.reports.failures import analyse_records
from proofgate.reports.plots import draw_outcomes
from proofgate.reports.reward_log import draw_cheat_rate, summarise

_PNG = b"\x89PNG\r\n\x1a\n"
_LINE = {"step": 0, "call": 0, "reward": 1.0, "status": "proved", "proved": True, "cheat": None}


@pytest.fixture
def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib unimportable, as on an install without the `report` extra."""
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_matplotlib")
def test_each_drawing_without_matplotlib_names_itself_and_the_extra() -> None:
    with pytest.raises(ConfigError) as failure_report:
        draw_outcomes(analyse_records([]))
    with pytest.raises(ConfigError) as reward_plot:
        draw_cheat_rate(summarise([_LINE]))
    assert str(failure_report.value).startswith("the failure report draws with matplotlib")
    assert str(reward_plot.value).startswith("the reward log's plot draws with matplotlib")
    for refusal in (failure_report.value, reward_plot.value):
        assert "pip install 'proofgate[report]'" in str(refusal)


def test_a_figure_styled_and_rendered() -> None:
    pytest.importorskip("matplotlib", reason="drawing needs the `report` extra")
    figure = new_figure(4, 3, drawing="a test")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1])
    style_axes(axes, grid="y")
    assert not axes.spines["top"].get_visible() and not axes.spines["right"].get_visible()
    assert axes.spines["left"].get_visible()
    assert axes.yaxis.get_gridlines()[0].get_visible()
    assert not axes.xaxis.get_gridlines()[0].get_visible()
    assert figure.get_size_inches().tolist() == [4, 3] and figure.dpi == 110
    assert png(figure).startswith(_PNG)
    assert draw_cheat_rate(summarise([_LINE])).startswith(_PNG)
