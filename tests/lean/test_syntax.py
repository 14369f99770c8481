"""Lean's surface syntax in one place: the command words and the header reader every reader shares."""

from __future__ import annotations

import pytest

from proofgate.ci.discover import discover_text
from proofgate.dojo import cut_at_proof
from proofgate.lean.lexer import iter_tokens, tokenize
from proofgate.lean.syntax import (
    COMMAND_WORDS,
    DECLARATION_WORDS,
    INITIALIZE_WORDS,
    MODIFIER_WORDS,
    RESERVED_WORDS,
    RUN_CODE_WORDS,
    SIMPROC_WORDS,
    SYNTAX_WORDS,
    Scopes,
    imported_module,
    is_attribute_use,
    nesting,
    read_header,
)
from proofgate.verify.assemble import parse_statement
from proofgate.verify.completion import declarations
from proofgate.verify.rules import KEYWORDS


def code(text: str) -> list:
    return [token for token in tokenize(text) if token.is_code]


def test_the_header_is_module_prelude_then_imports_with_their_modifiers() -> None:
    text = "/- c -/ module\nprelude\n-- x\npublic meta import all A.B\nimport C\nimport D open E"
    header = read_header(tokenize(text))
    assert [(c.kind, c.text) for c in header.commands] == [
        ("module", "module"),
        ("prelude", "prelude"),
        ("import", "public meta import all A.B"),
        ("import", "import C"),
        ("import", "import D"),
    ]
    assert [m.text for m in header.modules] == ["A.B", "C", "D"] and header.prelude
    assert header.size == 11 and header.end == text.index(" open E")
    assert read_header(tokenize("theorem t : True := ⟨⟩")).commands == ()
    assert read_header(tokenize("")).end == 0


@pytest.mark.parametrize(
    "text",
    [
        "meta public import A",  # the modifiers come in Lean's order: `public` first
        "import prelude",  # a keyword is not a module name
        "import all",
        "prelude\nmodule\nimport A",  # `module` only first
        "/-! doc -/\nimport A",  # a doc comment is a token: it ends the header
        "import /-- doc -/ A",
    ],
)
def test_what_is_no_header(text: str) -> None:
    assert [c.kind for c in read_header(tokenize(text)).commands] in ([], ["prelude"])
    assert not read_header(tokenize(text)).modules


def test_the_header_is_read_lazily() -> None:
    body = "theorem t : 1 = 1 := rfl\n" * 200
    tokens = iter_tokens("import A\n" + body)
    assert [m.text for m in read_header(tokens).modules] == ["A"]
    assert len(list(tokens)) >= len(tokenize(body)) - 4  # the body was not read


def test_imported_module_reads_any_import_keyword_as_the_header_does() -> None:
    tokens = code("theorem t := 1\nimport all Mathlib.Foo\nimport «all» B\nimport\nimport theorem")
    keywords = [i for i, token in enumerate(tokens) if token.is_word("import")]
    found = [imported_module(tokens, i) for i in keywords]
    assert [m.name if m else None for m in found] == ["Mathlib.Foo", "all", None, None]


def test_the_words_nest() -> None:
    assert DECLARATION_WORDS | MODIFIER_WORDS <= COMMAND_WORDS <= RESERVED_WORDS
    assert {"public", "meta"} <= MODIFIER_WORDS  # Lean v4.32's declModifiers
    depths, depth = [], 0
    for token in code("f (a [b ⟨c⟩]) ) @[x"):
        depth = nesting(token, depth)
        depths.append(depth)
    assert depths == [0, 1, 1, 2, 2, 3, 3, 2, 1, 0, 0, 1, 1]  # never below 0; `@[` opens


@pytest.mark.parametrize("word", sorted(RUN_CODE_WORDS | SYNTAX_WORDS | SIMPROC_WORDS))
def test_every_code_command_the_policy_refuses_ends_the_command_before_it(word: str) -> None:
    # The policy refuses these by the words syntax owns; every one is a command, so it also ends
    # the declaration before it (`dsimproc`, `declare_syntax_cat`, `run_meta` once did not).
    assert word in COMMAND_WORDS
    text = f"theorem a : True := by trivial\n{word} foo\ntheorem b : True := sorry\n"
    statement = parse_statement(text, target="b")
    first = statement.declarations[0]
    assert text[first.proof_start : first.proof_end] == "by trivial"


def test_the_policy_refuses_the_code_commands_by_the_words_syntax_owns() -> None:
    refused = {word for word, (rule, _, _) in KEYWORDS.items() if rule != "prelude"}
    assert refused >= RUN_CODE_WORDS | SYNTAX_WORDS | SIMPROC_WORDS | INITIALIZE_WORDS
    assert {"run_tac", "by_elab"} <= refused  # a tactic and a term: not command words
    assert not {"run_tac", "by_elab"} & COMMAND_WORDS


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ("instance foo : Inhabited Nat := ⟨0⟩", False),
        ("local instance foo : Inhabited Nat := ⟨0⟩", False),  # `instance` takes an attrKind
        ("scoped instance foo : Inhabited Nat := ⟨0⟩", False),
        ("@[instance] def foo", True),
        ("@[simp, instance] def foo", True),
        ("attribute [instance] foo", True),
        ("attribute [local instance] foo", True),
        ("attribute [simp, scoped instance] foo", True),
        ("attribute [-instance] foo", True),  # an erased attribute
        ("deriving instance Repr for Foo", True),
        ("theorem t : True := by exact (- instance)", False),  # a `-` outside an attribute list
    ],
)
def test_an_attribute_use_is_told_from_a_declaration(text: str, attribute: bool) -> None:
    tokens = code(text)
    index = next(i for i, t in enumerate(tokens) if t.is_word("instance"))
    assert is_attribute_use(tokens, index) is attribute


def test_assembly_and_the_completion_reader_find_the_same_declarations() -> None:
    # They once had a rule each: assembly took `local instance foo` for an attribute and read
    # `attribute [-instance] foo` as a nameless instance; the completion reader missed neither by
    # the rule but by luck (no name follows `[local instance]`).
    text = (
        "local instance instA : Inhabited Nat := ⟨0⟩\n"
        "@[simp, instance] def instB : Inhabited Nat := ⟨1⟩\n"
        "attribute [local instance] instB\n"
        "attribute [-instance] instA\n"
        "deriving instance Repr for Foo\n"
        "theorem t : True := sorry\n"
    )
    found = [(d.keyword, d.name) for d in parse_statement(text, target="t").declarations]
    assert found == [("instance", "instA"), ("def", "instB"), ("theorem", "t")]
    assert [(d.keyword, d.name) for d in declarations(text)] == found


#: Namespaces and sections as Lean keeps them: a dotted `end` closes one scope per component, a
#: `mutual` block's `end` closes only the block, a named section adds no namespace.
SCOPED = """namespace A
namespace B
theorem x : True := trivial
end A.B
theorem y : True := trivial
namespace C
mutual
theorem z : True := trivial
end
theorem w : True := trivial
section S.T
theorem v : True := trivial
end S.T
theorem _root_.r : True := sorry
end C
"""
SCOPED_NAMES = ["A.B.x", "y", "C.z", "C.w", "C.v", "r"]


def test_scopes_follow_leans_namespace_section_and_end() -> None:
    scopes = Scopes()
    assert scopes.follow("namespace", ["A", "B"]) and scopes.namespace == ("A", "B")
    assert scopes.follow("section", ["S"], on_line=False) is False  # not its name: unnamed
    assert scopes.follow("end") is False and scopes.namespace == ("A", "B")
    assert scopes.follow("mutual") is False and scopes.follow("end") is False
    assert scopes.follow("end", ["A", "B"]) and scopes.namespace == ()
    assert scopes.follow("theorem", ["x"]) is None
    assert scopes.full_name(["_root_", "r"]) == "r" and scopes.full_name(["x"]) == "x"


def test_every_reader_of_declarations_names_them_as_lean_does() -> None:
    # Four readers kept scopes each: CI's theorem finder closed one scope for `end A.B` (naming
    # `y` `A.y`), the Dojo adapter's `cut_at_proof` let a `mutual` block's `end` close `C` (so
    # `C.w` was not found); assembly and the completion reader agreed with Lean here.
    assert [d.name for d in parse_statement(SCOPED).declarations] == SCOPED_NAMES
    assert [d.name for d in declarations(SCOPED)] == SCOPED_NAMES
    assert [t.name for t in discover_text(SCOPED)] == SCOPED_NAMES
    for name in SCOPED_NAMES:
        short = name.rsplit(".", 1)[-1]
        assert cut_at_proof(SCOPED, name).endswith(f"{short} : True := by sorry")
