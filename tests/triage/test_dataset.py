"""The statement audit's parts that need no Lean: reading the inputs, the truncating-arithmetic
rule, the binder-name-free type, reading Lean's auto-bound errors, the type queries' text; and
the simulated REPL's answers to those queries (the rules it models for them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from proofgate.bench.simulated_repl import SCRIPT
from proofgate.models import Category, Message, Severity
from proofgate.triage.dataset import (
    DatasetStatement,
    binder_free_hash,
    binder_free_type,
    read_lineages,
    truncating_arithmetic,
)
from proofgate.triage.statement_audit import auto_bound_names, inspection_codes


def test_inputs_in_minif2f_proofnet_and_putnam_shapes(tmp_path: Path) -> None:
    lines = [
        {"name": "m", "formal_statement": "theorem m : 1 = 1 := by\n", "header": "import Mathlib"},
        {"id": "p", "formal_statement": "theorem p : 1 = 1 :=", "nl_statement": "One is one."},
        {"name": "q", "lean4_statement": "theorem q : 1 = 1 :=\nsorry", "informal_statement": "Q"},
        {
            "name": "i",
            "informal_prefix": "/-- Say so. -/\n",
            "formal_statement": "theorem i : True",
        },
        {"name": "m", "formal_statement": "theorem m2 : 2 = 2 := by sorry"},
        {"formal_statement": "theorem x : True := by sorry"},
        {"name": "no formal"},
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\nnot json\n")
    (lineage, again) = read_lineages([path, path])
    assert (lineage.label, again.label) == ("mini", "mini-2")
    m, p, q, i, dup, unnamed, unformal, bad = lineage.statements
    assert m.lean == "import Mathlib\n\ntheorem m : 1 = 1 := by sorry\n" and m.key == "mini/m"
    assert (
        p.lean == "import Mathlib\n\ntheorem p : 1 = 1 := sorry\n" and p.informal == "One is one."
    )
    assert q.lean.endswith(":=\nsorry\n") and q.informal == "Q"
    assert i.informal == "Say so." and i.error is None
    assert dup.error is not None and "already used" in dup.error and dup.name == "m@line:5"
    assert unnamed.error is not None and "no name" in unnamed.error
    assert unformal.error is not None and "formal_statement, lean4_statement" in unformal.error
    assert bad.error is not None and bad.error.startswith("not JSON") and bad.line == 9


def _statement(formal: str, informal: str | None) -> DatasetStatement:
    return DatasetStatement("l", 1, "t", formal, informal, None, formal)


def test_truncating_arithmetic_rule() -> None:
    natural_division = "theorem t (a : ℕ) (h : a = 7 / 2) : a = 3"
    seen = truncating_arithmetic(_statement(natural_division, "Let $a = \\frac{7}{2}$."))
    assert seen is not None and seen.operators == ("1:29 /",) and seen.types == ("ℕ",)
    assert seen.informal_signs == ("\\frac",)
    # the informal text says nothing of reals, fractions or negatives: nothing to report
    quiet = truncating_arithmetic(_statement(natural_division, "Let $a$ be seven halves, floored."))
    assert quiet is not None and quiet.informal_signs == ()
    # ℤ subtraction does not truncate, ℤ division does; a field type anywhere: no rule
    assert truncating_arithmetic(_statement("theorem t (a : ℤ) : a - 1 < a", "x = -3")) is None
    integer = truncating_arithmetic(_statement("theorem t (a : ℤ) : a / 2 ≤ a", "negative a"))
    assert integer is not None and integer.informal_signs == ("negative",)
    assert truncating_arithmetic(_statement("theorem t (a : ℕ) (x : ℝ) : x / a = x", "")) is None
    # unary minus and `-` inside a comment are not subtraction
    assert truncating_arithmetic(_statement("theorem t (n : ℕ) : -- n - 1\n n = n", "")) is None
    negative = truncating_arithmetic(_statement("theorem t (n : ℕ) : n - 1 ≤ n", "for n = -1"))
    assert negative is not None and negative.informal_signs == ("-1",)
    assert truncating_arithmetic(_statement("theorem t (n : ℕ) : n - 1 ≤ n", "n - 1")) is not None
    signs = truncating_arithmetic(_statement("theorem t (n : ℕ) : n - 1 ≤ n", "n - 1 ≥ 0"))
    assert signs is not None and signs.informal_signs == ()  # `n - 1` is no negative number


def test_binder_free_type() -> None:
    assert binder_free_type("∀ (x y : ℕ), x = y → y = x") == binder_free_type(
        "∀ (a b : ℕ),\n    a = b → b = a"
    )
    assert binder_free_hash("∀ (x y : ℕ), x = y → y = x") != binder_free_hash(
        "∀ (x y : ℕ), y = x → y = x"
    )
    assert binder_free_type("∃ x > 0, ∀ y ∈ s, x ≤ y") == "∃ x1 > 0 , ∀ x2 ∈ s , x1 ≤ x2"
    assert binder_free_type("fun n => n + k") == binder_free_type("fun m => m + k")
    assert binder_free_type("fun n => n + k") != binder_free_type("fun k => k + k")
    assert binder_free_type("{x | x < 3} = s") == "{ x1 | x1 < 3 } = s"
    # a name bound twice gets two positions: the second binding does not alias the first
    assert binder_free_type("(∃ x, p x) ∧ ∃ x, q x") == "( ∃ x1 , p x1 ) ∧ ∃ x2 , q x2"


def _error(text: str) -> Message:
    return Message(severity=Severity.error, category=Category.other, text=text)


def test_auto_bound_names_are_read_from_leans_errors() -> None:
    messages = [
        _error("Unknown identifier `x`"),
        _error("unknown identifier 'y'"),
        _error("Unknown identifier `x`\n\nNote: a note Lean may add"),
        _error("unknown universe level `u`"),
        _error("type mismatch"),
        Message(severity=Severity.info, category=Category.other, text="Unknown identifier `z`"),
    ]
    assert auto_bound_names(messages) == ["x", "y", "u"]


def test_the_type_queries_text() -> None:
    lean = "import Mathlib\nimport Aesop\nopen Real\n\ntheorem Nat.«my thm» : True := by sorry\n"
    with_type, line, without = inspection_codes(lean, "Nat.my thm")
    assert with_type.splitlines()[line - 1] == "#check (type_of% @_root_.Nat.«my thm»)"
    assert without == (
        "import Mathlib\nimport Aesop\nset_option autoImplicit false\nopen Real\n\n"
        "theorem Nat.«my thm» : True := by sorry\n"
    )
    _, _, bare = inspection_codes("theorem t : True := by sorry\n", "t")
    assert bare == "set_option autoImplicit false\ntheorem t : True := by sorry\n"


# --- the simulated REPL's answers (modelled; see its module docstring) --------------------------


def _replies(*codes: str) -> list[dict[str, object]]:
    stdin = "".join(json.dumps({"cmd": code}) + "\n\n" for code in codes)
    result = subprocess.run(
        [sys.executable, SCRIPT], input=stdin, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(chunk) for chunk in result.stdout.split("\n\n") if chunk.strip()]


def _messages(reply: dict[str, object]) -> list[tuple[str, object, str]]:
    raw = reply.get("messages", [])
    assert isinstance(raw, list)
    return [(m["severity"], m["pos"], m["data"]) for m in raw if m["severity"] != "warning"]


AUTO = "-- standin: auto-bound n ℕ\ntheorem b (h : n + 1 = 2) : n = 1 := by sorry\n"


def test_the_simulated_repl_answers_a_type_query_as_lean_prints_a_check() -> None:
    plain, auto, group, other = _replies(
        "theorem a (x y : ℕ) (h : x = y) : y = x := by sorry\n#check (type_of% @_root_.a)",
        AUTO + "#check (type_of% @_root_.b)",
        "theorem d {α : Type u} [Group α] (a : α) (h : ∀ k : α, k = a) : a * 1 = a := sorry\n"
        "#check (type_of% @d)",
        "theorem e : True := by sorry\n#check (type_of% @_root_.f)",
    )
    assert _messages(plain) == [
        ("info", {"line": 2, "column": 0}, "∀ (x y : ℕ), x = y → y = x : Prop")
    ]
    assert _messages(auto) == [
        ("info", {"line": 3, "column": 0}, "∀ {n : ℕ}, n + 1 = 2 → n = 1 : Prop")
    ]
    assert _messages(group)[0][2] == (
        "∀ {α : Type u} [inst : Group α] (a : α), (∀ k : α, k = a) → a * 1 = a : Prop"
    )
    assert _messages(other) == []  # a name not declared here: no answer


def test_the_simulated_repl_fails_an_auto_bound_name_without_auto_implicits() -> None:
    option, again, scoped = _replies(
        "set_option autoImplicit false\n" + AUTO + "#check (type_of% @_root_.b)",
        "set_option autoImplicit true\n" + AUTO,
        "set_option autoImplicit false in\n" + AUTO,
    )
    assert _messages(option) == [("error", {"line": 3, "column": 15}, "Unknown identifier `n`")]
    assert _messages(again) == [] and _messages(scoped) == []
