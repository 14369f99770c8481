"""`proofgate report` over a reward log (`proofgate.reports.reward_log`): told apart from a batch's
results by its lines, grouped by step (by `call` where the trainer gave no step), and a malformed
line is an error naming its number."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from proofgate.cli import app
from proofgate.exceptions import ConfigError
from proofgate.models.rewards import RewardRecord, RewardStatus
from proofgate.reports.reward_log import is_reward_log, read_reward_log, summarise
from proofgate.rewards import RewardLog
from tests.reports.sample_results import write_sample_results

pytestmark = pytest.mark.timeout(60)

STATEMENT = "theorem t1 (a b : Nat) : a + b = b + a := by sorry\n"


def record(index: int, status: str, cheat: str | None = None) -> RewardRecord:
    reward = None if status == "timeout" else (1.0 if status == "proved" else 0.0)
    return RewardRecord(
        index=index,
        reward=reward,
        retry=status == "timeout",
        status=RewardStatus(status),
        proved=status == "proved",
        cheat=cheat,
        compiled=status in ("proved", "compiled"),
    )


def write_log(path: Path, calls: list[tuple[int | None, list[RewardRecord]]]) -> None:
    with RewardLog(path) as log:
        for step, records in calls:
            log.write(records, STATEMENT, adapter="verl", environment="default", step=step)


def test_steps_rates_and_classes(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    write_log(
        path,
        [
            (2, [record(0, "proved"), record(1, "rejected", "native_code"), record(2, "timeout")]),
            (1, [record(0, "failed"), record(1, "incomplete", "hidden_sorry")]),
            (2, [record(0, "rejected", "native_code"), record(1, "proved")]),
        ],
    )
    summary = summarise(read_reward_log(path))
    assert summary.by == "step" and summary.classes == ["native_code", "hidden_sorry"]
    first, second = summary.steps
    assert (first.step, first.records, first.cheat_rate, first.proved_rate) == (1, 2, 0.5, 0.0)
    assert (second.step, second.records, second.cheated, second.retries) == (2, 5, 2, 1)
    assert second.cheat_rate == pytest.approx(2 / 5)
    assert second.mean_reward == pytest.approx(2 / 4)  # the timeout has no reward: not counted
    assert summary.total.records == 7 and summary.total.cheats == {
        "native_code": 2,
        "hidden_sorry": 1,
    }


def test_lines_without_a_step_are_placed_by_their_call(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    write_log(
        path,
        [
            (None, [record(0, "proved"), record(1, "rejected", "axiom")]),
            (None, [record(0, "rejected", "axiom")]),
            (None, [record(0, "proved")]),
        ],
    )
    summary = summarise(read_reward_log(path))
    assert summary.by == "call"
    assert [(s.step, s.records, s.cheated) for s in summary.steps] == [
        (0, 2, 1),
        (1, 1, 1),
        (2, 1, 0),
    ]
    windowed = summarise(read_reward_log(path), window=2)
    assert [(s.step, s.records, s.cheated) for s in windowed.steps] == [(0, 3, 2), (2, 1, 0)]


def test_a_reward_log_is_told_from_a_batchs_results(tmp_path: Path) -> None:
    log, results, empty = tmp_path / "r.ndjson", tmp_path / "results.jsonl", tmp_path / "e"
    write_log(log, [(0, [record(0, "proved")])])
    write_sample_results(results)
    empty.write_text("\n", encoding="utf-8")
    assert is_reward_log(log)
    assert not is_reward_log(results)
    assert not is_reward_log(empty) and not is_reward_log(tmp_path / "missing")


GOOD = json.dumps(
    {"step": 0, "call": 0, "reward": 1.0, "status": "proved", "proved": True, "cheat": None}
)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"step": 1, "reward": 1.0, "status": "pro', "line 3: not a JSON object (Unterminated"),
        ("[1, 2]", "line 3: not a JSON object; a reward log has one record a line"),
        (
            '{"step": 1, "call": 1, "reward": 1.0, "proved": true, "cheat": null}',
            "line 3 has no 'status'",
        ),
        (GOOD.replace('"step": 0', '"step": "two"'), "line 3: 'step' is 'two', not a whole number"),
        (GOOD.replace('"reward": 1.0', '"reward": "high"'), "line 3: 'reward' is 'high'"),
        (GOOD.replace('"step": 0, "call": 0', '"step": null'), "line 3 has neither a 'step' nor"),
    ],
)
def test_a_malformed_line_is_named_by_its_number(tmp_path: Path, bad: str, message: str) -> None:
    path = tmp_path / "rewards.ndjson"
    path.write_text(f"{GOOD}\n\n{bad}\n{GOOD}\n", encoding="utf-8")  # a blank line still counts
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path} {message}")):
        read_reward_log(path)
    result = CliRunner().invoke(app, ["report", str(path), "--rewards"])
    assert result.exit_code == 2
    assert "line 3" in result.output
    result = CliRunner().invoke(app, ["report", str(path), "--rewards", "--json"])
    assert result.exit_code == 2
    answer: dict[str, Any] = json.loads(result.stdout)
    assert answer["error"] == "usage" and "line 3" in answer["message"]


def test_a_malformed_first_line_still_reads_as_a_reward_log_with_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    path.write_text("not json\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(path), "--rewards"])
    assert result.exit_code == 2 and "line 1: not a JSON object" in result.output


def test_a_missing_log_and_a_batch_without_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope.ndjson"), "--rewards"])
    assert result.exit_code == 2 and "does not exist" in result.output
    write_sample_results(tmp_path / "results.jsonl")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "results.jsonl")])
    assert result.exit_code == 2 and "needs --out DIR" in result.output


def test_the_table_without_a_plot(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    write_log(path, [(5, [record(0, "proved"), record(1, "rejected", "policy:exit")])])
    result = CliRunner().invoke(app, ["report", str(path)])
    assert result.exit_code == 0, result.output
    assert "cheat rate 0.500" in result.output and "policy:exit" in result.output
    assert not (tmp_path / "rewards.png").exists()


def test_without_the_plot_the_hint_names_the_extra_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich markup would eat `[report]` from the install hint (issue 30, defect 2)."""
    from proofgate.reports import reward_log

    path = tmp_path / "rewards.ndjson"
    write_log(path, [(5, [record(0, "proved")])])
    monkeypatch.setattr(reward_log, "write_reward_report", lambda summary, out: [out / "x.json"])
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "proofgate[report]" in result.output
