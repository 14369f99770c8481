"""The checks a session's tactic passes before Lean sees it, and how one step is rendered."""

from __future__ import annotations

import pytest

from proofgate.models.sessions import ProofState, TacticOutcome
from proofgate.sessions.tactics import check_tactic, indent_tactic, render_step
from proofgate.verify.policy import PolicyConfig

STRICT = PolicyConfig()
PERMISSIVE = PolicyConfig(profile="permissive")


def test_the_text_is_normalized_not_rewritten() -> None:
    checked = check_tactic("\n    have h : p := by\n      exact hp\n\n    ", STRICT)
    assert checked.refusal is None
    assert checked.text == "have h : p := by\n  exact hp"  # common indentation and blanks gone


def test_the_permissive_profile_runs_the_rewritten_text() -> None:
    tactic = "set_option maxHeartbeats 2000000 in\n  simp"
    assert "cap of 1000000" in (check_tactic(tactic, STRICT).refusal or "")
    lowered = check_tactic(tactic, PERMISSIVE)
    assert lowered.refusal is None
    assert lowered.text.startswith("set_option maxHeartbeats 1000000") and "simp" in lowered.text


@pytest.mark.parametrize(
    ("tactic", "reason"),
    [
        ("rfl\ntheorem x : True := trivial", "line 2 of the tactic starts at column 0"),
        ("    exact h\n  rfl", "first line is indented more"),
        ('exact "open', "unterminated string"),
        ("x" * 20_001, "longer than"),
        ("run_tac pure ()", "[run-code]"),
    ],
)
def test_refusals_say_why(tactic: str, reason: str) -> None:
    assert reason in (check_tactic(tactic, STRICT).refusal or "")


def test_violations_are_placed_in_the_tactics_own_lines() -> None:
    checked = check_tactic("skip\n  exact (by native_decide)", STRICT)
    assert checked.violations and checked.violations[0].rule == "native-code"
    assert (checked.violations[0].line, checked.violations[0].column) == (2, 12)


def test_indentation_keeps_blank_lines_blank() -> None:
    assert indent_tactic("a\n\n  b", "    ") == "    a\n\n      b"


def test_a_failed_step_shows_the_goals_to_work_on() -> None:
    before = ProofState(state=2, goals=["h : p\n⊢ p", "⊢ q"])
    outcome = TacticOutcome(session_id="s", from_state=2, outcome="error", reason="no progress")
    text = render_step(outcome, "simp", before)
    assert text.splitlines()[:3] == ["tactic on state 2:", "  simp", "-> error: no progress"]
    assert "goals of state 2, unchanged:" in text and "    h : p" in text and "  goal 2:" in text


def test_no_goals_points_at_finish_not_at_success() -> None:
    after = ProofState(state=3, parent=2, tactic="exact hp", status="no_goals")
    outcome = TacticOutcome(session_id="s", from_state=2, outcome="ok", state=after)
    text = render_step(outcome, "exact hp", ProofState(state=2, goals=["⊢ p"]))
    assert "no goals left" in text and "finish on state 3" in text
