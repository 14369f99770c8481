"""Replaying reports on the stand-in stack: the same verdict reproduces; an edited report, other
pins, another checker or a changed outcome are each named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofgate.models import Submission, Verdict, VerdictStatus
from proofgate.reports.record import build_record, load_record, write_record
from proofgate.reports.replay import compare_verdicts, replay
from proofgate.reports.signing import ReportKey, load_report_key
from tests.support.stack import Stack, make_stack, running_service

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


async def _report(stack: Stack, key: ReportKey, path: Path) -> Verdict:
    submission = Submission(statement=STATEMENT, code=HONEST)
    async with running_service(stack) as service:
        verdict = await service.check(submission)
    assert verdict.status is VerdictStatus.proved, verdict.reason
    write_record(build_record(submission, verdict, stack.settings, key, item_id="t1"), path)
    return verdict


async def _fresh_check(stack: Stack, submission: Submission) -> Verdict:
    async with running_service(stack) as service:
        return await service.check(submission)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path, cache_enabled=False)  # a replay must check, not read the cache


async def test_a_report_replays_to_the_same_verdict(stack: Stack, tmp_path: Path) -> None:
    key = load_report_key(stack.settings)
    await _report(stack, key, tmp_path / "report.json")
    for name in ("report.json", "report.md"):
        result = await replay(load_record(tmp_path / name), key, lambda s: _fresh_check(stack, s))
        assert result.reproduced, result.reasons
        assert result.signature == "valid" and result.replayed.status is VerdictStatus.proved
        assert not result.replayed.cached


async def test_a_tampered_report_is_detected(stack: Stack, tmp_path: Path) -> None:
    key = load_report_key(stack.settings)
    await _report(stack, key, tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    data["verdict"]["axioms"] = ["propext", "Classical.choice"]  # claim fewer axioms
    (tmp_path / "report.json").write_text(json.dumps(data))
    result = await replay(
        load_record(tmp_path / "report.json"), key, lambda s: _fresh_check(stack, s)
    )
    assert not result.reproduced and result.signature == "invalid"
    assert result.reasons[0].startswith("signature invalid")
    assert any(
        r.startswith("verdict differs: same status, different axioms") for r in result.reasons
    )


async def test_a_changed_outcome_is_a_verdict_difference(stack: Stack, tmp_path: Path) -> None:
    key = load_report_key(stack.settings)
    await _report(stack, key, tmp_path / "report.json")
    stack.scenario(axioms=["propext", "sorryAx"])  # the same proof now reaches sorry
    result = await replay(
        load_record(tmp_path / "report.json"), key, lambda s: _fresh_check(stack, s)
    )
    assert result.signature == "valid"
    [reason] = result.reasons
    assert reason.startswith("verdict differs: status proved -> incomplete (also axioms")


async def test_a_report_signed_elsewhere_is_not_verifiable_here(
    stack: Stack, tmp_path: Path
) -> None:
    await _report(stack, load_report_key(stack.settings), tmp_path / "report.json")
    elsewhere = ReportKey(b"k" * 40, "test")
    result = await replay(
        load_record(tmp_path / "report.json"), elsewhere, lambda s: _fresh_check(stack, s)
    )
    assert result.signature == "unknown_key" and not result.reproduced
    assert "signature not verifiable here" in result.reasons[0]


def test_pins_and_checker_differences_are_named() -> None:
    from tests.reports.sample_results import PINS

    verdict = Verdict(status=VerdictStatus.proved, kind="check", pins=PINS)
    other_mathlib = verdict.model_copy(update={"pins": PINS.model_copy(update={"mathlib": "abc"})})
    assert compare_verdicts(verdict, other_mathlib) == [
        f"pins differ: mathlib {PINS.mathlib} -> abc"
    ]
    new_checker = verdict.model_copy(
        update={"pins": PINS.model_copy(update={"checker": "proofgate-checker 2"})}
    )
    assert compare_verdicts(verdict, new_checker) == [
        "checker changed: checker proofgate-checker 1 -> proofgate-checker 2"
    ]
    timed_out = verdict.model_copy(update={"status": VerdictStatus.timeout})
    [reason] = compare_verdicts(verdict, timed_out)
    assert reason.startswith("verdict differs: status proved -> timeout") and "load" in reason
    assert compare_verdicts(verdict, verdict.model_copy(update={"reason": "other words"})) == []
