"""Reading a completion: reasoning stripped, the last fenced Lean block, a proof body or a theorem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofgate.exceptions import SubmissionError
from proofgate.models import Submission
from proofgate.verify.completion import (
    declarations,
    fenced_blocks,
    read_completion,
    read_lean_input,
    strip_reasoning,
)


@pytest.mark.parametrize(
    ("completion", "kind", "lean"),
    [
        ("```lean4\nby omega\n```", "proof", "by omega"),
        ("```lean\nby omega\n```", "proof", "by omega"),
        ("```\nby omega\n```", "proof", "by omega"),
        ("```Lean4 title\nby omega\n```", "proof", "by omega"),
        ("~~~lean4\nby omega\n~~~", "proof", "by omega"),
        ("````lean4\nby\n  ```\n  omega\n````", "proof", "by\n  ```\n  omega"),
        # tactics without `by` get one; a `by` alone on its line has its tactics indented
        ("```lean4\nintro x\nsimp\n```", "proof", "by\n  intro x\n  simp"),
        ("```lean4\n  by\nomega\n```", "proof", "by\n  omega"),
        ("```lean4\n:= by\n  omega\n```", "proof", "by\n  omega"),
        # a term stays a term
        ("```lean4\nNat.add_comm a b\n```", "proof", "Nat.add_comm a b"),
        # a file or a theorem is a restatement, kept as written
        ("```lean4\ntheorem t : 1 = 1 := rfl\n```", "theorem", "theorem t : 1 = 1 := rfl"),
        ("```lean4\nimport Mathlib\n\nlemma t : 1 = 1 := rfl\n```", "theorem", None),
        ("```lean4\nexample : 1 = 1 := rfl\n```", "theorem", None),
        # the last Lean block wins; other languages are not Lean
        ("```lean4\nby simp\n```\nbetter:\n```lean4\nby omega\n```", "proof", "by omega"),
        ("```lean4\nby omega\n```\n```python\nprint(1)\n```", "proof", "by omega"),
        ("```lean4\nby omega\n```\n```lean4\n\n```", "proof", "by omega"),
        # a block left open at the end (a truncated completion) runs to the end
        ("```lean4\nby\n  omega", "proof", "by\n  omega"),
    ],
)
def test_the_lean_is_read(completion: str, kind: str, lean: str | None) -> None:
    read = read_completion(completion)
    assert read.kind == kind
    if lean is not None:
        assert read.lean == lean


@pytest.mark.parametrize(
    ("completion", "why"),
    [
        ("", "empty"),
        ("I cannot prove this.", "no fenced Lean block"),
        ("```python\nprint(1)\n```", "labelled lean4"),
        ("```lean4\n-- nothing yet\n```", "only comments"),
        ("<think>```lean4\nby omega\n```</think>", "all reasoning"),
        ("<think>```lean4\nby omega\n```", "all reasoning"),  # never closed: all reasoning
    ],
)
def test_no_lean_is_no_proof_with_a_reason(completion: str, why: str) -> None:
    read = read_completion(completion)
    assert read.kind == "none" and why in read.reason


def test_reasoning_is_stripped_whatever_its_tag() -> None:
    text = "<THINK>a</THINK>b<thinking x='1'>c</thinking>d<reasoning>e</reasoning >f"
    assert strip_reasoning(text) == "bdf"
    # the opening tag was in the prompt: everything up to the last closing tag is reasoning
    assert strip_reasoning("a ```lean4\nby simp\n``` </think>answer") == "answer"


def test_unfenced_lean_only_when_asked() -> None:
    assert read_completion("by omega").kind == "none"
    assert read_completion("by omega", unfenced=True).lean == "by omega"
    assert read_completion("<think>x</think>theorem t : 1 = 1 := rfl", unfenced=True).kind == (
        "theorem"
    )


def test_declaration_names_follow_namespaces() -> None:
    lean = (
        "namespace A\ntheorem x : True := trivial\nsection S\nlemma y : True := trivial\nend S\n"
        "theorem _root_.z : True := trivial\nend A\ntheorem «w» : True := trivial\n"
        "@[simp] theorem v : True := trivial\nattribute [instance] foo\ndef d : ℕ := 1\n"
        "example : True := trivial\naxiom ax : False\n"
    )
    found = [(d.keyword, d.name, d.in_namespace) for d in declarations(lean)]
    assert found == [
        ("theorem", "A.x", True),
        ("lemma", "A.y", True),
        ("theorem", "z", True),
        ("theorem", "w", False),
        ("theorem", "v", False),
        ("def", "d", False),
        ("axiom", "ax", False),
    ]
    first = declarations(lean)[0]
    assert lean[first.start : first.end] == "x"


# --- properties --------------------------------------------------------------------------------

#: Text with no fence, no reasoning tag and no Lean comment opener: prose or Lean alike.
plain = st.text(
    alphabet=st.characters(blacklist_characters="`~<>\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029-"),
    max_size=80,
)
_FILE_WORDS = {"theorem", "lemma", "example", "import"}
lean_lines = st.lists(
    st.from_regex(r"[a-z][a-z0-9_ ]{0,20}", fullmatch=True)
    .map(str.rstrip)
    .filter(lambda line: not _FILE_WORDS & set(line.split())),
    min_size=1,
    max_size=5,
)


@given(prose=plain, decoy=lean_lines, answer=lean_lines, tail=plain)
def test_the_last_block_after_the_reasoning_is_taken(
    prose: str, decoy: list[str], answer: list[str], tail: str
) -> None:
    body = "\n".join(answer)
    completion = (
        f"<think>{prose}\n```lean4\n" + "\n".join(decoy) + f"\n```\n</think>\n{prose}\n"
        f"```lean4\nby\n{body}\n```\n{tail}"
    )
    read = read_completion(completion)
    assert read.kind == "proof"
    assert read.lean == "by\n" + "\n".join("  " + line for line in answer)


@given(blocks=st.lists(st.tuples(st.sampled_from(["lean4", "lean", "", "python"]), lean_lines)))
def test_fenced_blocks_round_trip(blocks: list[tuple[str, list[str]]]) -> None:
    text = "intro\n" + "".join(
        f"```{label}\n" + "\n".join(lines) + "\n```\nmore\n" for label, lines in blocks
    )
    assert fenced_blocks(text) == [(label, "\n".join(lines)) for label, lines in blocks]


@given(text=st.text(max_size=200))
def test_reading_never_fails_and_strips_every_tag(text: str) -> None:
    read = read_completion(text)
    assert read.kind in ("proof", "theorem", "none")
    stripped = strip_reasoning(text).lower()
    assert "<think>" not in stripped and "</think>" not in stripped


# --- `"input": "completion"` on the other routes: read_lean_input ---------------------------

LOCKED = "import Mathlib\nopen Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
THINKING = "<think>\n```lean4\nby simp\n```\n</think>\nSo:\n```lean4\n{lean}\n```\n"


def test_a_lean_submission_is_read_as_it_is_and_hashes_as_before_the_field() -> None:
    submission = Submission(statement=LOCKED, proof="by omega")
    assert read_lean_input(submission) is submission
    # pinned from before `input` existed: Lean submissions keep their content hash
    pinned = Submission(
        statement="theorem t : 1 = 1 := by sorry", proof="rfl", allowed_axioms=["Classical.choice"]
    )
    assert pinned.content_hash() == (
        "ac38f168fc1fb4d08fbcb4599d3864f9a0d2d27d85c2d1c2893683e3b4da85cc"
    )
    as_completion = pinned.model_copy(update={"input": "completion"})
    assert as_completion.content_hash() != pinned.content_hash()


def test_a_completion_in_proof_is_its_last_lean_block_outside_the_reasoning() -> None:
    raw = Submission(
        statement=LOCKED, proof=THINKING.format(lean="by omega"), input="completion", timeout=5
    )
    read = read_lean_input(raw)
    assert read.input is None and read.proof == "by omega" and read.code is None
    assert (read.statement, read.timeout) == (LOCKED, 5)


def test_a_restated_theorem_becomes_code_with_the_statements_target() -> None:
    lean = "theorem my_comm (a b : ℕ) : a + b = b + a := Nat.add_comm a b"
    raw = Submission(statement=LOCKED, code=THINKING.format(lean=lean), input="completion")
    read = read_lean_input(raw)
    assert read.proof is None and read.code is not None
    assert "theorem t1 (a b" in read.code and "my_comm" not in read.code
    assert read.code.startswith("open Nat")  # the statement's opens, as /v1/rewards reads it


def test_a_free_compile_takes_the_block_as_it_is() -> None:
    raw = Submission(code=THINKING.format(lean="theorem x : 2 = 2 := rfl"), input="completion")
    assert read_lean_input(raw).code == "theorem x : 2 = 2 := rfl"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"statement": LOCKED, "proof": "I cannot prove this."}, "proof"),
        ({"code": "<think>```lean4\nby simp\n```</think> no answer"}, "code"),
        # a proof body cannot fill the statement's answer holes: the theorem must be restated
        (
            {
                "statement": "abbrev answer : ℕ := sorry\n\ntheorem t : answer = 2 := by sorry",
                "answer_holes": ["answer"],
                "proof": "```lean4\nby rfl\n```",
            },
            "proof",
        ),
    ],
)
def test_a_completion_without_usable_lean_is_an_error_naming_the_field(
    fields: dict[str, object], field: str
) -> None:
    with pytest.raises(SubmissionError) as raised:
        read_lean_input(Submission.model_validate({**fields, "input": "completion"}))
    assert raised.value.field == field and str(raised.value).startswith(f"{field}: ")
