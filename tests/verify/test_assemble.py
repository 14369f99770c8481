"""Assembling a submission into the checked file: target, holes, proof splicing, position map."""

from __future__ import annotations

import pytest

from proofgate.exceptions import SubmissionError
from proofgate.models import Submission
from proofgate.verify.assemble import SourcePosition, assemble, parse_statement

STATEMENT = "import Mathlib\nopen Real\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def test_free_compile_is_the_code() -> None:
    assembled = assemble(Submission(code="theorem x : True := trivial"))
    assert assembled.kind == "compile" and assembled.text == "theorem x : True := trivial"
    assert assembled.target is None and assembled.primary == "code"
    assert assembled.locate(1, 8) == SourcePosition("code", 1, 8)


def test_target_is_the_last_theorem_with_namespaces() -> None:
    statement = parse_statement(
        "import Mathlib\nnamespace A.B\nlemma helper : True := trivial\nsection S\n"
        "theorem main (n : ℕ) : n = n := by\n  sorry\nend S\nend A.B\n"
    )
    assert statement.target_name == "A.B.main"
    assert [d.name for d in statement.declarations] == ["A.B.helper", "A.B.main"]
    assert statement.imports == ("Mathlib",)


def test_root_prefix_and_end_of_namespace() -> None:
    statement = parse_statement(
        "namespace Outer\ntheorem _root_.top : True := trivial\nend Outer\n"
        "namespace Second\nend Second\ntheorem last : 1 = 1 := sorry\n"
    )
    assert [d.name for d in statement.declarations] == ["top", "last"]
    assert statement.target_name == "last"


def test_explicit_target_by_full_or_declared_name() -> None:
    text = "namespace N\ntheorem a : True := sorry\ntheorem b : True := sorry\nend N\n"
    assert parse_statement(text, target="N.a").target_name == "N.a"
    assert parse_statement(text, target="b").target_name == "N.b"
    with pytest.raises(SubmissionError) as missing:
        parse_statement(text, target="c")
    assert missing.value.field == "target" and "N.a" in str(missing.value)


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("def x : ℕ := 1\n", "statement", "no named `theorem`"),
        ("example : True := sorry\n", "statement", "no named `theorem`"),
        ("private theorem p : True := sorry\n", "statement", "private"),
        ("theorem q : True := trivial\n", "statement", "must be proved by `sorry`"),
        ("theorem r : True := by\n  intro\n  sorry\n", "statement", "must be proved by `sorry`"),
    ],
)
def test_statement_shape_errors(text: str, field: str, words: str) -> None:
    with pytest.raises(SubmissionError) as error:
        assemble(Submission(statement=text, proof="trivial"))
    assert error.value.field == field and words in str(error.value)


def test_sorry_forms_are_recognised() -> None:
    for proof in ("sorry", "by sorry", "by\n  sorry", "(sorry)", "by -- later\n  sorry"):
        assert parse_statement(f"theorem t : True := {proof}\n").target.is_sorry, proof


PUTNAM = (
    "import Mathlib\nopen Real\n\n"
    "abbrev putnam_x_solution : Set ℝ := sorry\n"
    "theorem putnam_x (x : ℝ) : x ∈ putnam_x_solution ↔ x = 0 := by\n  sorry\n"
)


def test_answer_holes_are_found_and_resolved() -> None:
    statement = parse_statement(PUTNAM)
    assert statement.holes == ("putnam_x_solution",)
    code = PUTNAM.replace(":= sorry", ":= {0}").replace("by\n  sorry", "by simp")
    assembled = assemble(
        Submission(statement=PUTNAM, code=code, answer_holes=["putnam_x_solution"])
    )
    assert assembled.answer_holes == ("putnam_x_solution",)
    assert assembled.target == "putnam_x" and assembled.text == code


def test_a_sorried_definition_the_target_does_not_mention_is_no_hole() -> None:
    text = "def unused : ℕ := sorry\ntheorem t : True := sorry\n"
    assert parse_statement(text).holes == ()


@pytest.mark.parametrize(
    ("holes", "proof", "field"),
    [
        (["nope"], None, "answer_holes"),
        ([], None, "answer_holes"),
        (["putnam_x_solution"], "by simp", "proof"),
    ],
)
def test_answer_hole_errors(holes: list[str], proof: str | None, field: str) -> None:
    fields = {"proof": proof} if proof is not None else {"code": PUTNAM}
    with pytest.raises(SubmissionError) as error:
        assemble(Submission(statement=PUTNAM, answer_holes=holes, **fields))
    assert error.value.field == field


def test_proof_replaces_the_target_sorry_in_place() -> None:
    assembled = assemble(Submission(statement=STATEMENT, proof="by\n  omega"))
    assert assembled.kind == "check" and assembled.target == "t1"
    assert assembled.text == STATEMENT.replace("by sorry", "by\n  omega")
    assert assembled.primary == "proof"


def test_only_the_target_sorry_is_replaced() -> None:
    statement = "theorem first : True := sorry\ntheorem second : True := sorry\n"
    assembled = assemble(Submission(statement=statement, proof="trivial"))
    assert assembled.text == "theorem first : True := sorry\ntheorem second : True := trivial\n"


def test_empty_proof_is_refused() -> None:
    with pytest.raises(SubmissionError) as error:
        assemble(Submission(statement=STATEMENT, proof="  \n"))
    assert error.value.field == "proof"


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1)


@pytest.mark.parametrize("header_lines", [0, 1, 3, 7])
@pytest.mark.parametrize(
    "target",
    [
        "theorem t (n : ℕ) : n + 0 = n := by\n  sorry",
        "theorem t (n : ℕ) : n + 0 = n := by sorry",
        "theorem t (n : ℕ) :\n    n + 0 = n :=\n  sorry",
    ],
)
def test_proof_positions_map_back_with_headers_of_different_lengths(
    header_lines: int, target: str
) -> None:
    header = "".join(f"import Mathlib.Part{i}\n" for i in range(header_lines))
    statement = header + "-- a comment\nopen Nat\n\n" + target + "\n-- after\n"
    proof = "by\n  intro\n  simp [Nat.add_zero]\n  exact rfl"
    assembled = assemble(Submission(statement=statement, proof=proof))
    start = parse_statement(statement).target.proof_start
    assert start is not None
    for k, char in enumerate(proof):
        if char == "\n":
            continue
        line, column = _line_column(assembled.text, start + k)
        assert assembled.text.split("\n")[line - 1][column] == char
        assert assembled.locate(line, column) == SourcePosition("proof", *_line_column(proof, k))
    # statement text before and after the proof maps to the statement itself
    assert assembled.locate(header_lines + 2, 0) == SourcePosition("statement", header_lines + 2, 0)
    last = assembled.text.rstrip("\n").split("\n")
    assert assembled.locate(len(last), 3) == SourcePosition(
        "statement", len(statement.rstrip("\n").split("\n")), 3
    )


def test_statement_text_after_the_proof_maps_to_the_statement() -> None:
    statement = "theorem t : True := by sorry -- keep\nend\n"
    assembled = assemble(Submission(statement=statement, proof="by\n  trivial"))
    assert assembled.text == "theorem t : True := by\n  trivial -- keep\nend\n"
    assert assembled.locate(2, 10) == SourcePosition("statement", 1, 29)
    assert assembled.locate(3, 0) == SourcePosition("statement", 2, 0)


def test_end_positions_belong_to_the_span_they_close() -> None:
    assembled = assemble(Submission(statement=STATEMENT, proof="by\n  omega"))
    end_line = STATEMENT.split("\n").index("theorem t1 (a b : ℕ) : a + b = b + a := by sorry") + 2
    assert assembled.locate(end_line, 7, end=True) == SourcePosition("proof", 2, 7)
    assert assembled.locate(end_line, 7) == SourcePosition("statement", 4, 48)


@pytest.mark.parametrize("imports", [1, 2, 5])
def test_code_without_imports_borrows_the_statement_header(imports: int) -> None:
    header = "".join(f"import Mathlib.M{i}\n" for i in range(imports))
    statement = header + "theorem t : True := sorry\n"
    code = "theorem t : True := by\n  trivial\n"
    assembled = assemble(Submission(statement=statement, code=code))
    assert assembled.text == header + code
    assert assembled.locate(imports + 2, 2) == SourcePosition("code", 2, 2)
    assert assembled.locate(1, 0) == SourcePosition("statement", 1, 0)


def test_code_with_its_own_imports_is_left_alone() -> None:
    code = "import Mathlib.Tactic\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by omega\n"
    assembled = assemble(Submission(statement=STATEMENT, code=code))
    assert assembled.text == code and assembled.locate(3, 4) == SourcePosition("code", 3, 4)


def test_positions_outside_the_text_are_none() -> None:
    assembled = assemble(Submission(statement=STATEMENT, proof="by omega"))
    assert assembled.locate(0, 0) is None  # the REPL's "no position"
    assert assembled.locate(999, 0) is None
    assert assembled.locate(1, -1) is None


def test_with_text_keeps_the_map_and_refuses_a_length_change() -> None:
    assembled = assemble(Submission(code="set_option maxHeartbeats 5000000\n"))
    rewritten = assembled.with_text("set_option maxHeartbeats 1000000\n")
    assert rewritten.locate(1, 25) == assembled.locate(1, 25)
    with pytest.raises(ValueError):
        assembled.with_text("shorter")


def test_hash_notation_in_a_signature_is_not_a_command() -> None:
    text = "open Finset\ntheorem c (s : Finset ℕ) (h : s = ∅) :\n    #s = 0 := by sorry\n#check c\n"
    statement = parse_statement(text)
    assert statement.target_name == "c" and statement.target.is_sorry
    assert "s" in statement.target.signature


def test_the_statement_header_is_read_as_lean_reads_it() -> None:
    text = (
        "-- a\npublic import Mathlib.Foo\n/- b -/ import all Aesop\nmeta import Qq\n\n"
        "theorem t : True := sorry\n"
    )
    statement = parse_statement(text)
    assert statement.imports == ("Mathlib.Foo", "Aesop", "Qq")
    assert statement.header.end == text.index("\n\ntheorem")
    # Lean v4.32 has no `private import` nor `import runtime`: no header, and `runtime` is a module
    assert parse_statement("private import Mathlib\ntheorem t : True := sorry").imports == ()
    assert parse_statement("import runtime Mathlib\ntheorem t : True := sorry").imports == (
        "runtime",
    )
    prelude = parse_statement("prelude\nimport Init.Core\ntheorem t : True := sorry")
    assert prelude.imports == ("Init.Core",) and prelude.header.prelude


def test_code_without_a_header_borrows_the_statements_as_written() -> None:
    statement = "module\npublic import Mathlib -- all of it\n/- c -/ import all Aesop\n\n" + (
        "theorem t : True := sorry\n"
    )
    code = "theorem t : True := by\n  trivial\n"
    assembled = assemble(Submission(statement=statement, code=code))
    header = "module\npublic import Mathlib -- all of it\n/- c -/ import all Aesop\n"
    assert assembled.text == header + code
    assert assembled.locate(5, 2) == SourcePosition("code", 2, 2)
    assert assembled.locate(3, 13) == SourcePosition("statement", 3, 13)


@pytest.mark.parametrize("own", ["module\n", "prelude\n", "public import Mathlib\n"])
def test_code_with_any_header_of_its_own_keeps_it(own: str) -> None:
    code = own + "theorem t1 (a b : ℕ) : a + b = b + a := by omega\n"
    assert assemble(Submission(statement=STATEMENT, code=code)).text == code


def test_a_statement_without_imports_lends_no_header() -> None:
    statement = parse_statement("theorem t : True := sorry\n")
    assert statement.imports == () and statement.header.end == 0
    code = "theorem t : True := trivial\n"
    assert assemble(Submission(statement="theorem t : True := sorry\n", code=code)).text == code


def test_a_local_notation_or_a_public_theorem_ends_an_answer_hole() -> None:
    text = (
        'abbrev a_solution : ℕ := sorry\nlocal notation "X" => 1\n'
        "abbrev b_solution : ℕ := sorry\npublic theorem t : a_solution = b_solution := sorry\n"
    )
    statement = parse_statement(text)
    assert statement.holes == ("a_solution", "b_solution")
    assert statement.target_name == "t"


# --- a free compile's target (issue 30, defect 1) ---------------------------------------------

COMPILE = """import Mathlib

namespace Foo
theorem bar : True := trivial
private theorem hidden : True := trivial
end Foo

/-- theorem ghost : True := trivial -/
theorem baz : 1 = 1 := rfl
"""


@pytest.mark.parametrize(("target", "full"), [("Foo.bar", "Foo.bar"), ("baz", "baz")])
def test_a_free_compiles_target_is_one_of_its_theorems(target: str, full: str) -> None:
    assembled = assemble(Submission(code=COMPILE, target=target))
    assert assembled.kind == "compile" and assembled.compile_target == full
    assert assembled.target is None and assembled.target_missing is None  # the audit's: none


@pytest.mark.parametrize("target", ["nope", "ghost", "hidden", "Foo.hidden"])
def test_a_free_compiles_missing_target_says_so_before_lean(target: str) -> None:
    """A name the code lacks, one only in a comment, or a private theorem (no stable name)."""
    assembled = assemble(Submission(code=COMPILE, target=target))
    assert assembled.compile_target == target and assembled.target_missing is not None
    assert f"no public theorem named {target}" in assembled.target_missing
    assert "its theorems: Foo.bar, baz" in assembled.target_missing


def test_a_free_compile_without_target_has_none() -> None:
    assembled = assemble(Submission(code=COMPILE))
    assert assembled.compile_target is None and assembled.target_missing is None
