"""Theorems, their full names, locked statements and hashes, found without Lean."""

from __future__ import annotations

from pathlib import Path

from proofgate.ci.discover import discover_text, lean_files

SOURCE = """\
import Mathlib
open Real

namespace Outer
namespace Inner

/-- doc -/
@[simp] theorem one (n : ℕ) : n + 0 = n := by
  simp

private theorem hidden : True := trivial

end Inner

section
variable (x : ℕ)
lemma two : x = x := rfl
end

theorem _root_.three : True := trivial

example : True := trivial

#eval 1

def f : ℕ := 1

theorem four : f = 1 := by
  rfl
end Outer
"""


def by_name(text: str = SOURCE) -> dict:
    return {t.name: t for t in discover_text(text)}


def test_full_names_and_places() -> None:
    found = by_name()
    assert list(found) == ["Outer.Inner.one", "Outer.two", "three", "Outer.four"]
    one = found["Outer.Inner.one"]
    assert (one.line, one.column, one.end_line) == (8, 8, 9)
    assert one.signature == "theorem one (n : ℕ) : n + 0 = n"
    assert found["Outer.four"].end_line == 29


def test_statement_is_self_contained_and_ends_in_sorry() -> None:
    four = by_name()["Outer.four"]
    statement = four.statement
    assert statement.startswith("import Mathlib\n\nopen Real\n\nnamespace Outer")
    assert statement.rstrip().endswith("theorem four : f = 1 := sorry")
    assert "def f : ℕ := 1" in statement
    assert "theorem one (n : ℕ) : n + 0 = n := sorry" in statement  # earlier proofs cut
    assert "simp\n" not in statement and "example" not in statement and "#eval" not in statement


def test_text_hash_ignores_comments_whitespace_and_attributes() -> None:
    edited = SOURCE.replace(
        "@[simp] theorem one (n : ℕ) : n + 0 = n", "theorem one  (n : ℕ) -- c\n  : n + 0 = n"
    )
    assert (
        by_name(edited)["Outer.Inner.one"].text_sha256 == by_name()["Outer.Inner.one"].text_sha256
    )
    changed = SOURCE.replace("n + 0 = n", "0 + n = n")
    assert (
        by_name(changed)["Outer.Inner.one"].text_sha256 != by_name()["Outer.Inner.one"].text_sha256
    )


def test_context_hash_follows_definitions_not_lemmas() -> None:
    base = by_name()["Outer.four"].context_sha256
    with_lemma = SOURCE.replace("def f", "theorem extra : True := trivial\n\ndef f")
    assert by_name(with_lemma)["Outer.four"].context_sha256 == base
    redefined = SOURCE.replace("def f : ℕ := 1", "def f : ℕ := 2")
    assert by_name(redefined)["Outer.four"].context_sha256 != base
    instance = SOURCE.replace("def f", "local instance : Add ℕ := ⟨fun _ _ => 3⟩\n\ndef f")
    assert by_name(instance)["Outer.four"].context_sha256 != base
    # what comes after a theorem never changes its context
    assert by_name(redefined)["three"].context_sha256 == by_name()["three"].context_sha256


def test_lean_files_skip_build_output_and_hidden_dirs(tmp_path: Path) -> None:
    for relative in (
        "A.lean",
        "Sub/B.lean",
        ".lake/packages/m/M.lean",
        "build/C.lean",
        ".hidden/D.lean",
        "notes.txt",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("theorem t : True := trivial\n")
    assert [p.relative_to(tmp_path).as_posix() for p in lean_files(tmp_path)] == [
        "A.lean",
        "Sub/B.lean",
    ]
