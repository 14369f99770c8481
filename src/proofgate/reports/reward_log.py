"""The reward log's report: per training step, how many completions were rewarded, the mean
reward, the share proved, and the cheat rate with the count of each cheat class.

`read_reward_log` reads an adapter's NDJSON log (`proofgate.rewards.log`), `summarise` groups its
lines by step (a line without a step, from a trainer that passes none, by its `call`), and
`draw_cheat_rate` plots the rates (matplotlib, the `report` extra). `proofgate report LOG` prints
the table and, with `--out DIR`, writes `rewards.json` and `rewards.png`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofgate.exceptions import ConfigError
from proofgate.models.validation import json_object
from proofgate.reports.drawing import new_figure, png, style_axes

__all__ = [
    "RewardLogSummary",
    "StepSummary",
    "draw_cheat_rate",
    "is_reward_log",
    "read_reward_log",
    "summarise",
    "write_reward_report",
]

#: What a line must hold to be counted, and the JSON types each may have.
_REQUIRED: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "proved": (bool,),
    "cheat": (str, type(None)),
    "reward": (int, float, type(None)),
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _line(text: str, number: int, path: Path) -> dict[str, Any]:
    where = f"{path} line {number}"
    line = json_object(text.strip(), where, hint="a reward log has one record a line")
    for name, types in _REQUIRED.items():
        if name not in line:
            raise ConfigError(f"{where} has no {name!r}: is this a reward log?")
        value = line[name]
        if not isinstance(value, types) or (name == "reward" and isinstance(value, bool)):
            raise ConfigError(f"{where}: {name!r} is {value!r}, not a {types[0].__name__}")
    for name in ("step", "call"):
        value = line.get(name)
        if value is not None and not _is_int(value):
            raise ConfigError(f"{where}: {name!r} is {value!r}, not a whole number")
    if line.get("step") is None and line.get("call") is None:
        raise ConfigError(f"{where} has neither a 'step' nor a 'call' to place it by")
    return line


def read_reward_log(path: Path) -> list[dict[str, Any]]:
    """The log's lines (blank ones skipped); a line that is not a reward record is a ConfigError
    naming its number."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cannot read the reward log {path}: it does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the reward log {path}: {exc.strerror or exc}") from None
    lines = []
    with handle:
        try:
            for number, text in enumerate(handle, start=1):
                if text.strip():
                    lines.append(_line(text, number, path))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path} is not UTF-8 text ({exc.reason})") from None
    return lines


def is_reward_log(path: Path) -> bool:
    """Whether `path` looks like a reward log: its first line is an object with a reward record's
    `reward` and `status` and a log's `step` or `call` (a batch's results have none of these)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                if text.strip():
                    first = json_object(text, str(path), hint="")  # why is never shown
                    break
            else:
                return False
    except (OSError, UnicodeDecodeError, ConfigError):
        return False
    return {"reward", "status"} <= first.keys() and ("step" in first or "call" in first)


@dataclass
class StepSummary:
    """One step's records: counts, and the rates the report prints."""

    step: int
    records: int = 0
    proved: int = 0
    retries: int = 0
    cheats: Counter[str] = field(default_factory=Counter)
    reward_sum: float = 0.0
    rewarded: int = 0  # records with a reward (an unfinished check has none)

    @property
    def cheated(self) -> int:
        return sum(self.cheats.values())

    @property
    def cheat_rate(self) -> float:
        return self.cheated / self.records if self.records else 0.0

    @property
    def proved_rate(self) -> float:
        return self.proved / self.records if self.records else 0.0

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.rewarded if self.rewarded else None

    def add(self, line: Mapping[str, Any]) -> None:
        self.records += 1
        self.proved += bool(line["proved"])
        self.retries += bool(line.get("retry"))
        if line["cheat"] is not None:
            self.cheats[line["cheat"]] += 1
        if line["reward"] is not None:
            self.reward_sum += float(line["reward"])
            self.rewarded += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "records": self.records,
            "mean_reward": self.mean_reward,
            "proved_rate": self.proved_rate,
            "cheat_rate": self.cheat_rate,
            "cheats": dict(sorted(self.cheats.items())),
            "retries": self.retries,
        }


@dataclass
class RewardLogSummary:
    """The log by step, in step order, and the cheat classes seen (most frequent first)."""

    steps: list[StepSummary]
    by: str  # "step", or "call" when no line had a trainer's step
    window: int = 1

    @property
    def classes(self) -> list[str]:
        total: Counter[str] = Counter()
        for step in self.steps:
            total.update(step.cheats)
        return [name for name, _ in sorted(total.items(), key=lambda item: (-item[1], item[0]))]

    @property
    def total(self) -> StepSummary:
        whole = StepSummary(step=-1)
        for step in self.steps:
            whole.records += step.records
            whole.proved += step.proved
            whole.retries += step.retries
            whole.cheats.update(step.cheats)
            whole.reward_sum += step.reward_sum
            whole.rewarded += step.rewarded
        return whole

    def as_json(self) -> dict[str, Any]:
        total = self.total.as_json()
        del total["step"]
        return {
            "by": self.by,
            "window": self.window,
            "classes": self.classes,
            "steps": [step.as_json() for step in self.steps],
            "total": total,
        }


def summarise(lines: Iterable[Mapping[str, Any]], *, window: int = 1) -> RewardLogSummary:
    """The lines by step (`window` consecutive steps together: step `s` counts under
    `s - s % window`). A line whose trainer passed no step is placed by its `call`."""
    if window < 1:
        raise ConfigError(f"the window must be at least 1 step (got {window})")
    lines = list(lines)
    by = "step" if any(line.get("step") is not None for line in lines) else "call"
    steps: dict[int, StepSummary] = {}
    for line in lines:
        key = line.get("step")
        if key is None:
            key = line["call"]
        key -= key % window
        steps.setdefault(key, StepSummary(step=key)).add(line)
    return RewardLogSummary(steps=[steps[key] for key in sorted(steps)], by=by, window=window)


def draw_cheat_rate(summary: RewardLogSummary) -> bytes:
    """A PNG: above, the cheat rate per step and each class's share stacked beneath it; below,
    the share proved and the mean reward (ConfigError without matplotlib)."""
    figure = new_figure(9, 6, drawing="the reward log's plot")
    from matplotlib.ticker import MaxNLocator

    rates, outcomes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    steps = [step.step for step in summary.steps]
    label = summary.by if summary.window == 1 else f"{summary.by} (window of {summary.window})"
    if summary.classes:
        shares = [
            [step.cheats[name] / step.records if step.records else 0.0 for step in summary.steps]
            for name in summary.classes
        ]
        rates.stackplot(steps, shares, labels=summary.classes, alpha=0.55)
    rates.plot(steps, [s.cheat_rate for s in summary.steps], color="#b71c1c", linewidth=2,
               marker="o", markersize=3, label="cheat rate")  # fmt: skip
    rates.set_ylabel("share of completions")
    rates.set_ylim(0, max(0.05, max((s.cheat_rate for s in summary.steps), default=0) * 1.15))
    rates.set_title("Cheats per step (a rising rate is the policy learning to game the reward)")
    rates.legend(loc="upper left", fontsize=8, frameon=False)
    outcomes.plot(steps, [s.proved_rate for s in summary.steps], color="#2e7d32", marker="o",
                  markersize=3, label="proved")  # fmt: skip
    means = [math.nan if s.mean_reward is None else s.mean_reward for s in summary.steps]
    outcomes.plot(steps, means, color="#1565c0", linestyle="--", label="mean reward")
    values = [s.proved_rate for s in summary.steps] + [m for m in means if not math.isnan(m)]
    outcomes.set_ylim(min(0.0, *values) - 0.02, max(1.0, *values) + 0.05)
    outcomes.set_ylabel("share proved, mean reward")
    outcomes.set_xlabel(label)
    outcomes.xaxis.set_major_locator(MaxNLocator(integer=True))
    outcomes.legend(loc="upper left", fontsize=8, frameon=False)
    for axes in (rates, outcomes):
        style_axes(axes, grid="y")
    return png(figure)


def write_reward_report(summary: RewardLogSummary, out: Path) -> list[Path]:
    """`rewards.json` in `out`, and `rewards.png` when matplotlib is installed; the paths
    written. An unwritable `out` is a ConfigError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "rewards.json"]
        written[0].write_text(json.dumps(summary.as_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report in {out}: {exc.strerror or exc}") from None
    try:
        picture = draw_cheat_rate(summary)
    except ConfigError:
        return written
    (out / "rewards.png").write_bytes(picture)
    written.append(out / "rewards.png")
    return written
