"""The small Lean scanner: comments, strings and names never look like commands."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proofgate.ci.source import normalised, split_commands, tokenize


def kinds(text: str) -> list[str]:
    return [c.kind for c in split_commands(tokenize(text))]


def test_comments_hide_commands() -> None:
    text = "-- theorem a : False := sorry\n/- outer /- theorem b -/ still -/\n/-- doc -/\ntheorem c : True := trivial\n"
    assert kinds(text) == ["theorem"]
    (command,) = split_commands(tokenize(text))
    assert command.name() == "c" and command.keyword.line == 4


def test_strings_and_char_literals_are_single_tokens() -> None:
    tokens = tokenize('def s := "theorem x := \\"y\\"" ++ toString \'"\'')
    assert [t.kind for t in tokens] == [
        "ident",
        "ident",
        "symbol",
        "string",
        "symbol",
        "symbol",
        "ident",
        "char",
    ]


def test_primes_belong_to_identifiers() -> None:
    assert [t.text for t in tokenize("h' : a' = b'")] == ["h'", ":", "a'", "=", "b'"]


def test_guillemet_and_dotted_names() -> None:
    tokens = tokenize("theorem Foo.«bar baz».qux : True")
    assert tokens[1].text == "Foo.«bar baz».qux"


def test_tactic_open_and_set_option_do_not_start_commands() -> None:
    text = "theorem a : True := by\n  open Nat in\n  set_option maxRecDepth 10 in\n  trivial\n"
    assert kinds(text) == ["theorem"]


def test_prefixes_join_the_command_they_prefix() -> None:
    text = (
        "open Real in\ntheorem a : True := trivial\n@[simp]\nprivate\ntheorem b : True := trivial\n"
    )
    commands = split_commands(tokenize(text))
    assert [(c.kind, c.name()) for c in commands] == [("theorem", "a"), ("theorem", "b")]


def test_module_system_modifiers_and_every_command_word_start_commands() -> None:
    text = (
        "theorem a : True := trivial\npublic theorem b : True := trivial\nmeta def m := 1\n"
        'notation3 "X" => 1\nderiving instance Repr for S\nrun_cmd pure ()\n'
    )
    commands = split_commands(tokenize(text))
    assert [(c.kind, c.name()) for c in commands] == [
        ("theorem", "a"),
        ("theorem", "b"),
        ("def", "m"),
        ("notation3", None),
        ("deriving", "instance"),
        ("run_cmd", "pure"),
    ]


def test_hash_commands_and_sections() -> None:
    text = "#eval 1\nnoncomputable section\nend\n#check Nat\n"
    assert kinds(text) == ["#eval", "section", "end", "#check"]


def test_normalised_drops_comments_and_collapses_whitespace() -> None:
    a = normalised(tokenize("lemma x  (n : ℕ) -- note\n  : n = n"))
    b = normalised(tokenize("theorem x (n : ℕ) /- other -/ : n = n"))
    assert a == b == "theorem x (n : ℕ) : n = n"
    assert normalised(tokenize("theorem x : 1+1 = 2")) != normalised(
        tokenize("theorem x : 1+1 = 3")
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_no_input_crashes_the_scanner(text: str) -> None:
    tokens = tokenize(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    commands = split_commands(tokens)
    assert sum(len(c.tokens) for c in commands) == len(tokens)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="-/\n"), max_size=80))
def test_nothing_inside_a_comment_is_a_command(inner: str) -> None:
    text = f"/- {inner} theorem hidden : False := sorry -/\n-- theorem {inner}\ntheorem shown : True := trivial\n"
    assert [c.name() for c in split_commands(tokenize(text)) if c.kind == "theorem"] == ["shown"]
