"""The reward scale and the cheat class a verdict shows (proofgate.rewards.reward)."""

from __future__ import annotations

from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.models import Position, SorryInfo, Verdict, VerdictStatus, Violation
from proofgate.models.rewards import RewardOptions, RewardStatus
from proofgate.rewards.reward import (
    RewardScale,
    classify_cheat,
    no_proof_record,
    verdict_record,
)


def verdict(status: str, **fields: Any) -> Verdict:
    return Verdict(status=VerdictStatus(status), kind="check", target="t1", **fields)


def violation(rule: str, line: int = 1, column: int = 0, message: str = "no") -> Violation:
    return Violation(rule=rule, line=line, column=column, message=message)


def test_every_verdict_status_is_a_reward_status() -> None:
    assert {s.value for s in VerdictStatus} | {"no_proof"} == {s.value for s in RewardStatus}
    assert {s.value for s in RewardStatus if s.is_unfinished} == {
        "timeout",
        "out_of_memory",
        "internal",
    }


def test_the_default_scale() -> None:
    scale = RewardScale()
    assert scale.reward(RewardStatus.proved) == 1.0
    for status in RewardStatus:
        if status.is_unfinished:
            assert scale.reward(status) is None
        elif status is not RewardStatus.proved:
            assert scale.reward(status) == 0.0


def test_options_over_settings_over_defaults() -> None:
    settings = Settings(reward_other=-0.1, reward_cheat_penalty=0.5)
    options = RewardOptions(statuses={RewardStatus.failed: -0.2}, no_proof_penalty=1.0)
    scale = RewardScale.from_options(options, settings)
    assert scale.reward(RewardStatus.proved) == 1.0
    assert scale.reward(RewardStatus.failed) == -0.2
    assert scale.reward(RewardStatus.incomplete) == -0.1
    assert scale.reward(RewardStatus.incomplete, cheat="hidden_sorry") == -0.6
    assert scale.reward(RewardStatus.no_proof) == -1.1
    assert scale.reward(RewardStatus.timeout, cheat="axiom") is None


def test_unfinished_statuses_have_no_reward_to_set() -> None:
    with pytest.raises(ValueError, match="null"):
        RewardOptions.model_validate({"statuses": {"timeout": 0.0}})
    with pytest.raises(ValueError):
        RewardOptions.model_validate({"cheat_penalty": float("nan")})


@pytest.mark.parametrize(
    ("made", "sources", "cheat"),
    [
        (verdict("proved"), {}, None),
        (verdict("failed"), {}, None),
        (verdict("statement_mismatch"), {}, "statement_mismatch"),
        (verdict("axiom_violation", axioms=["propext", "cheat"]), {"code": "x"}, "axiom"),
        (verdict("axiom_violation", axioms=["Lean.ofReduceBool"]), {"code": "x"}, "native_code"),
        (verdict("axiom_violation", axioms=["t._native.ax_1"]), {"code": "x"}, "native_code"),
        (
            verdict("axiom_violation", axioms=["x"]),
            {"proof": "by\n  decide +native"},
            "native_code",
        ),
        (verdict("rejected", violations=[violation("exit")]), {"code": "#exit"}, "policy:exit"),
        (
            verdict("rejected", violations=[violation("eval"), violation("native-code")]),
            {"code": "x"},
            "native_code",
        ),
        (
            verdict("rejected", violations=[violation("code-attribute", 2, 2)]),
            {"code": "def lie : Bool := true\n@[implemented_by lie] def truth : Bool := false"},
            "native_code",
        ),
        (
            verdict("rejected", violations=[violation("code-attribute", 1, 2)]),
            {"code": "@[csimp] theorem x : f = g := rfl"},
            "policy:code-attribute",
        ),
        (
            verdict("rejected", violations=[violation("exit", message="in the statement: no")]),
            {"code": "x"},
            None,
        ),
        (verdict("rejected"), {"code": "import Foo"}, "policy:import-not-allowed"),
    ],
)
def test_the_cheat_class(made: Verdict, sources: dict[str, str], cheat: str | None) -> None:
    assert classify_cheat(made, sources) == cheat


def sorry_at(line: int, source: str = "proof") -> SorryInfo:
    return SorryInfo(pos=Position(line=line, column=2), goal="⊢ True", source=source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sorries", "proof", "cheat"),
    [
        ([], "by\n  exact sorryAx _ false", "hidden_sorry"),  # Lean reported no sorry at all
        ([sorry_at(2)], "by\n  sorry", None),  # a plain, visible sorry
        ([sorry_at(2)], "by\n  admit", None),
        ([sorry_at(2)], "by\n  exact done!", "hidden_sorry"),  # a sorry behind notation
        ([sorry_at(2)], "by\n  -- sorry\n  exact x", "hidden_sorry"),  # `sorry` only in a comment
        ([sorry_at(2), sorry_at(3)], "by\n  sorry\n  cheat", "hidden_sorry"),
        ([SorryInfo(goal="⊢ True")], "by\n  sorry", "hidden_sorry"),  # no position to look at
    ],
)
def test_a_visible_sorry_is_no_cheat_a_hidden_one_is(
    sorries: list[SorryInfo], proof: str, cheat: str | None
) -> None:
    made = verdict("incomplete", sorries=sorries)
    assert (
        classify_cheat(made, {"statement": "theorem t1 : True := sorry", "proof": proof}) == cheat
    )


def test_records() -> None:
    scale = RewardScale(cheat_penalty=1.0)
    record = verdict_record(
        3,
        verdict("axiom_violation", axioms=["cheat"], cached=True),
        read_as="theorem",
        scale=scale,
        sources={"code": "x"},
    )
    assert (record.index, record.reward, record.cheat, record.compiled) == (3, -1.0, "axiom", True)
    assert record.cached and not record.proved and not record.retry
    timeout = verdict_record(0, verdict("timeout"), read_as="proof", scale=scale, sources={})
    assert timeout.reward is None and timeout.retry and not timeout.compiled
    none = no_proof_record(1, "no Lean", scale=scale)
    assert none.status is RewardStatus.no_proof and none.reward == 0.0 and none.reason == "no Lean"
