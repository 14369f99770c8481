"""Feedback: categories on Lean's real messages, goals, positions, and the annotated rendering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proofgate.lean.reply import ReplMessage, ReplReply, ReplSorry
from proofgate.models import Category, Message, Position, Severity, SorryInfo, Submission, Violation
from proofgate.verify.assemble import assemble
from proofgate.verify.feedback import (
    categorize,
    goals_in,
    messages_from_repl,
    policy_messages,
    render_annotated,
    sorries_from_repl,
)


def repl_messages(raw: list[dict[str, Any]]) -> tuple[ReplMessage, ...]:
    """`messages` as the driver reads them from a reply."""
    return ReplReply.parse({"messages": raw}).messages


def repl_sorries(raw: list[dict[str, Any]]) -> tuple[ReplSorry, ...]:
    return ReplReply.parse({"sorries": raw}).sorries


def replies(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON values of one `.expected.out` (pretty-printed, separated by blank lines)."""
    text, decoder, index = path.read_text(encoding="utf-8"), json.JSONDecoder(), 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        value, index = decoder.raw_decode(text, index)
        if isinstance(value, dict):
            yield value


def transcript_messages(shared_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((shared_dir / "lean-repl-transcripts").glob("*/*.expected.out")):
        for reply in replies(path):
            found.extend(reply.get("messages", []))
    return found


#: The category of each kind of message the real REPL printed (matched on the text's start).
EXPECTED = [
    ("(kernel) declaration has metavariables", Category.kernel),
    ("(kernel) application type mismatch", Category.kernel),
    ("declaration uses `sorry`", Category.sorry),
    ("Unknown identifier", Category.unknown_identifier),
    ("unsolved goals", Category.unsolved_goals),
    ("Variable name", Category.linter),
    ("unexpected token 'sorry'; expected command", Category.syntax),
    ("type expected, got", Category.type_mismatch),
    ("Case tag", Category.tactic_failed),
    ("No goals to be solved", Category.tactic_failed),
    ("fail to show termination", Category.termination),
    ("`exact?` could not close the goal", Category.tactic_failed),
    ("don't know how to synthesize placeholder", Category.unsolved_goals),
]


def test_categories_of_every_real_message(shared_dir: Path) -> None:
    messages = transcript_messages(shared_dir)
    assert len(messages) > 20
    matched_prefixes = set()
    for message in messages:
        category = categorize(message["data"], message["severity"])
        if message["severity"] == "info":
            assert category is Category.info
            continue
        prefix = next((p for p, _ in EXPECTED if message["data"].startswith(p)), None)
        assert prefix is not None, f"no expectation for a real message: {message['data'][:80]!r}"
        assert category is dict(EXPECTED)[prefix], message["data"][:80]
        matched_prefixes.add(prefix)
    assert matched_prefixes == {p for p, _ in EXPECTED}  # every expectation met a real message


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("linarith failed to find a contradiction\ncase a\nx : ℝ\n⊢ False", Category.tactic_failed),
        ("omega could not prove the goal:\na possible counterexample", Category.tactic_failed),
        ("simp made no progress", Category.tactic_failed),
        ("The rfl tactic failed. Possible reasons:", Category.tactic_failed),
        ("ring failed, ring_nf subsidiary goal", Category.tactic_failed),
        ("type mismatch\n  h\nhas type\n  a = b : Prop", Category.type_mismatch),
        ("application type mismatch\n  f a\nargument", Category.type_mismatch),
        ("failed to synthesize\n  HAdd ℕ ℝ ?m", Category.type_mismatch),
        ("function expected\n  f", Category.type_mismatch),
        ("unknown constant 'Nat.foo'", Category.unknown_constant),
        (
            "invalid field 'foo', the environment does not contain 'Nat.foo'",
            Category.unknown_constant,
        ),
        ("unknown namespace 'Foo'", Category.unknown_identifier),
        (
            "(deterministic) timeout at `whnf`, maximum number of heartbeats (200000) has been reached",
            Category.heartbeats,
        ),
        (
            "maximum recursion depth has been reached\nuse `set_option maxRecDepth <num>`",
            Category.max_recursion,
        ),
        ("unterminated comment", Category.syntax),
        ("unexpected identifier; expected ':='", Category.syntax),
        ("something new entirely", Category.other),
    ],
)
def test_categories_of_common_messages(text: str, category: Category) -> None:
    assert categorize(text, Severity.error) is category


def test_warnings_and_infos() -> None:
    assert categorize("`Nat.pos_of_ne_zero` has been deprecated", "warning") is Category.linter
    assert categorize("declaration uses 'sorry'", "warning") is Category.sorry
    assert categorize("Try this: exact h", "info") is Category.info


def test_goals_of_unsolved_goals_with_cases() -> None:
    text = "unsolved goals\ncase zero\n⊢ 0 + 1 > 0\n\ncase succ\nx : Nat\nhx : x + 1 > x\n⊢ x + 1 + 1 > x + 1"
    assert goals_in(text) == [
        "case zero\n⊢ 0 + 1 > 0",
        "case succ\nx : Nat\nhx : x + 1 > x\n⊢ x + 1 + 1 > x + 1",
    ]


def test_goals_of_placeholders_and_tactic_failures() -> None:
    assert goals_in("don't know how to synthesize placeholder\ncontext:\nn : ℕ\n⊢ n = 2") == [
        "n : ℕ\n⊢ n = 2"
    ]
    assert goals_in("linarith failed to find a contradiction\nx : ℝ\n⊢ False") == ["x : ℝ\n⊢ False"]
    assert goals_in("Unknown identifier `g`") == []


def test_a_goal_does_not_keep_leans_trailing_failed() -> None:
    """Issue 30, defect 9: `linarith failed ...\n⊢ False failed` has the goal `⊢ False`."""
    text = "linarith failed to find a contradiction\ncase a\nx : ℝ\na✝ : x > 0\n⊢ False failed"
    assert goals_in(text) == ["case a\nx : ℝ\na✝ : x > 0\n⊢ False"]
    assert goals_in("unsolved goals\nfailed : Prop\n⊢ failed") == ["failed : Prop\n⊢ failed"]


STATEMENT_HEADERS = [
    "",
    "import Mathlib\n",
    "import Mathlib\nopen Real Nat\n\n/- long\ncomment -/\n",
]


@pytest.mark.parametrize("header", STATEMENT_HEADERS)
def test_repl_positions_land_in_the_proof(header: str) -> None:
    statement = header + "theorem foo (x : Int) : x = x := by sorry\n"
    proof = "by\n  have h : x = 1 := by sorry\n  linarith"
    assembled = assemble(Submission(statement=statement, proof=proof))
    theorem_line = header.count("\n") + 1
    raw = [
        {
            "severity": "error",
            "pos": {"line": theorem_line + 2, "column": 2},
            "endPos": {"line": theorem_line + 2, "column": 10},
            "data": "linarith failed to find a contradiction\nx : Int\nh : x = 1\n⊢ False",
        },
        {
            "severity": "warning",
            "pos": {"line": theorem_line, "column": 8},
            "endPos": {"line": theorem_line, "column": 11},
            "data": "declaration uses `sorry`",
        },
        {
            "severity": "error",
            "pos": {"line": 0, "column": 0},
            "endPos": {"line": 0, "column": 0},
            "data": "unsolved goals\n⊢ False",
        },
    ]
    tactic, warning, nowhere = messages_from_repl(repl_messages(raw), locate=assembled.locate)
    assert tactic.source == "proof" and tactic.pos == Position(line=3, column=2)
    assert tactic.end_pos == Position(line=3, column=10) and tactic.goals == [
        "x : Int\nh : x = 1\n⊢ False"
    ]
    assert warning.source == "statement" and warning.pos == Position(line=theorem_line, column=8)
    assert nowhere.pos is None and nowhere.source is None and nowhere.goals == ["⊢ False"]
    # a message with no start in the submitter's text has no end there either
    (unlocated,) = messages_from_repl(
        repl_messages(
            [
                {
                    "severity": "error",
                    "pos": {"line": 0, "column": 0},
                    "endPos": {"line": 2, "column": 4},
                    "data": "x",
                }
            ]
        )
    )
    assert unlocated.pos is None and unlocated.end_pos is None
    sorries = sorries_from_repl(
        repl_sorries(
            [
                {
                    "proofState": 0,
                    "pos": {"line": theorem_line + 1, "column": 23},
                    "endPos": {"line": theorem_line + 1, "column": 28},
                    "goal": "x : Int\n⊢ x = 1",
                },
                {"proofState": 1, "goal": "⊢ True"},
            ]
        ),
        locate=assembled.locate,
    )
    assert sorries[0] == SorryInfo(
        pos=Position(line=2, column=23),
        end_pos=Position(line=2, column=28),
        goal="x : Int\n⊢ x = 1",
        source="proof",
    )
    assert sorries[1].pos is None and sorries[1].goal == "⊢ True"


def test_messages_without_a_locator_keep_their_positions() -> None:
    (message,) = messages_from_repl(
        repl_messages(
            [
                {
                    "severity": "error",
                    "pos": {"line": 2, "column": 4},
                    "data": "Unknown identifier `g`",
                }
            ]
        )
    )
    assert (
        message.pos == Position(line=2, column=4)
        and message.category is Category.unknown_identifier
    )


def test_trace_messages_read_as_info_and_line_zero_is_unplaced() -> None:
    """Malformed entries never get here: the driver refuses them (tests/lean/test_reply.py)."""
    (message,) = messages_from_repl(
        repl_messages(
            [{"severity": "trace", "pos": {"line": 0, "column": 0}, "endPos": None, "data": "t"}]
        )
    )
    assert message.pos is None and message.severity is Severity.info


def test_policy_messages() -> None:
    violations = [
        Violation(rule="eval", line=2, column=0, message="`#eval` is refused"),
        Violation(rule="debug-option", line=1, column=11, message="in the statement: x"),
    ]
    notes = [Violation(rule="heartbeats", line=3, column=25, message="lowered")]
    first, second, note = policy_messages(violations, notes=notes, source="proof")
    assert first.category is Category.policy and first.source == "proof" and "[eval]" in first.text
    assert second.source == "statement"
    assert note.severity is Severity.info


CODE = "theorem t (a b : ℕ) : a + b = b + a := by\n  simp\n  linarith\n"


def error_at(line: int, column: int, end: int | None, text: str) -> Message:
    return Message(
        severity=Severity.error,
        category=categorize(text),
        text=text,
        pos=Position(line=line, column=column),
        end_pos=Position(line=line, column=end) if end is not None else None,
    )


def test_rendering_puts_carets_under_the_columns() -> None:
    rendered = render_annotated(CODE, [error_at(3, 2, 10, "linarith failed\n⊢ False")])
    lines = rendered.split("\n")
    index = next(i for i, line in enumerate(lines) if line.endswith("  linarith"))
    caret = lines[index + 1]
    assert caret.index("^") - caret.index("|") - 2 == 2 and caret.count("^") == 8
    assert "error[tactic_failed]: linarith failed" in caret
    assert lines[index + 2].strip().endswith("⊢ False")


def test_rendering_lists_unplaced_messages_and_sorries() -> None:
    unplaced = Message(severity=Severity.error, category=Category.axiom, text="depends on `cheat`")
    sorry = SorryInfo(
        pos=Position(line=2, column=2), end_pos=Position(line=2, column=6), goal="⊢ P"
    )
    rendered = render_annotated(CODE, [unplaced], sorries=[sorry])
    assert rendered.startswith("error[axiom]: depends on `cheat`")
    assert "^^^^ sorry: goal: ⊢ P" in rendered


def test_rendering_elides_far_lines_and_stays_bounded() -> None:
    code = "\n".join(f"  step{i}" for i in range(1, 400))
    messages = [
        error_at(i, 2, 7, "unsolved goals\n" + "h : P\n" * 30 + "⊢ Q") for i in range(5, 390, 3)
    ]
    rendered = render_annotated(code, messages, max_chars=3000)
    assert len(rendered) <= 3000
    assert "..." in rendered
    small = render_annotated(code, [error_at(200, 2, 7, "x")], context=1)
    assert "step199" in small and "step201" in small and "step150" not in small


def test_rendering_without_messages_shows_the_code() -> None:
    assert render_annotated("a\nb", []) == "1 | a\n2 | b"
