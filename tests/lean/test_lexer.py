"""The Lean-aware tokenizer: what is code, what is not, and where each token stands."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proofgate.lean.lexer import (
    Token,
    TokenKind,
    is_id_first,
    is_id_rest,
    iter_tokens,
    tokenize,
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.value, t.text) for t in tokenize(text)]


def code_texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.is_code]


def test_line_comment_runs_to_end_of_line() -> None:
    assert kinds("a -- #eval b\nc") == [
        ("ident", "a"),
        ("line_comment", "-- #eval b"),
        ("ident", "c"),
    ]


def test_line_comment_glued_to_identifier() -> None:
    assert code_texts("a--b\nc") == ["a", "c"]


def test_block_comments_nest() -> None:
    tokens = tokenize("/- a /- b -/ #eval c -/ d")
    assert [(t.kind, t.text) for t in tokens] == [
        (TokenKind.BLOCK_COMMENT, "/- a /- b -/ #eval c -/"),
        (TokenKind.IDENT, "d"),
    ]


def test_doc_and_module_comments() -> None:
    tokens = tokenize("/-- doc /- inner -/ -/ /-! module -/ x")
    assert [t.kind for t in tokens] == [
        TokenKind.DOC_COMMENT,
        TokenKind.DOC_COMMENT,
        TokenKind.IDENT,
    ]


def test_unterminated_comment_runs_to_the_end() -> None:
    (token,) = tokenize("/- never /- closed -/ #eval 1")
    assert token.kind is TokenKind.BLOCK_COMMENT and not token.terminated
    assert token.end == len("/- never /- closed -/ #eval 1")


def test_comment_close_needs_dash_slash_in_order() -> None:
    # `--/` inside a comment: the first `-` is text, then `-/` closes.
    assert code_texts("/- a --/ b") == ["b"]


def test_string_with_escapes_and_quotes() -> None:
    text = r'"a \"#eval\" \\ \n \t \x41 \u03b1" x'
    tokens = tokenize(text)
    assert tokens[0].kind is TokenKind.STRING and tokens[0].terminated
    assert tokens[0].text == text[: text.rindex('"') + 1]
    assert tokens[1].text == "x"


def test_string_gap_continues_the_string() -> None:
    tokens = tokenize('"first \\\n    second" y')
    assert tokens[0].kind is TokenKind.STRING and tokens[0].text.endswith('second"')
    assert tokens[1].text == "y"


def test_unterminated_string_runs_to_the_end() -> None:
    (token,) = tokenize('"no end #eval x')
    assert token.kind is TokenKind.STRING and not token.terminated


def test_invalid_escape_is_malformed_and_the_rest_is_code() -> None:
    tokens = tokenize('"bad \\q #eval y"')
    assert tokens[0].kind is TokenKind.MALFORMED
    assert [t.text for t in tokens[1:3]] == ["q", "#eval"]


def test_raw_strings() -> None:
    tokens = tokenize('r"a\\q" r#"with "quotes" inside"# z')
    assert [t.kind for t in tokens] == [TokenKind.STRING, TokenKind.STRING, TokenKind.IDENT]
    assert tokens[1].text == 'r#"with "quotes" inside"#'


def test_char_literals() -> None:
    assert kinds("'a' '\\n' '\\'' '\"'") == [
        ("char", "'a'"),
        ("char", "'\\n'"),
        ("char", "'\\''"),
        ("char", "'\"'"),
    ]


def test_quote_after_a_symbol_is_not_a_char_literal() -> None:
    # Mathlib's preimage `f ⁻¹' s` and image `f '' s`.
    texts = code_texts("f ⁻¹' s ∪ f '' t")
    assert "s" in texts and "t" in texts and "''" in texts


@pytest.mark.parametrize("text", ['\'"#eval x"', "'\\q #eval", "'«x»", "'--x", "'/-x-/"])
def test_char_literal_that_could_hide_code_is_malformed(text: str) -> None:
    assert tokenize(text)[0].kind is TokenKind.MALFORMED


def test_guillemet_names() -> None:
    (token,) = tokenize("«my theorem».«#eval»")
    assert token.kind is TokenKind.IDENT and token.quoted
    assert token.parts == ("my theorem", "#eval") and token.name == "my theorem.#eval"


def test_unterminated_guillemet_name() -> None:
    (token,) = tokenize("«open")
    assert token.kind is TokenKind.IDENT and not token.terminated


def test_dotted_and_unicode_identifiers() -> None:
    tokens = tokenize("Nat.succ_le h₁ α' ℝ x!? 𝒜")
    assert [t.parts for t in tokens] == [
        ("Nat", "succ_le"),
        ("h₁",),
        ("α'",),
        ("ℝ",),
        ("x!?",),
        ("𝒜",),
    ]


def test_lambda_and_cyrillic_are_not_identifier_letters() -> None:
    # Lean reads neither as an identifier character; splitting there never hides a keyword.
    assert code_texts("λx") == ["λ", "x"]
    assert code_texts("fooрrun_cmd") == ["foo", "р", "run_cmd"]
    assert not is_id_first("λ") and is_id_first("α") and is_id_rest("₁") and not is_id_rest("")


def test_hash_words_and_array_literals() -> None:
    assert kinds("#eval #evalIO.println #[1] #s") == [
        ("hash", "#eval"),
        ("hash", "#evalIO"),
        ("symbol", "."),
        ("ident", "println"),
        ("symbol", "#["),
        ("number", "1"),
        ("symbol", "]"),
        ("hash", "#s"),
    ]


def test_numbers() -> None:
    assert code_texts("0x7fff_ffff 1_000_000 2.5e-3 0b101 h.1") == [
        "0x7fff_ffff",
        "1_000_000",
        "2.5e-3",
        "0b101",
        "h",
        ".",
        "1",
    ]


def test_name_literals() -> None:
    tokens = tokenize("`foo ``Bar.baz `(x)")
    assert [t.kind for t in tokens[:2]] == [TokenKind.NAME_LITERAL, TokenKind.NAME_LITERAL]
    assert tokens[1].parts == ("Bar", "baz")


def test_interpolated_string_code_is_lexed() -> None:
    tokens = tokenize('s!"a {by run_tac pure ()} b {x}" ++ "plain {run_cmd}"')
    words = [t.text for t in tokens if t.kind is TokenKind.IDENT]
    assert "run_tac" in words and "x" in words
    pieces = [t for t in tokens if t.kind is TokenKind.STRING and t.interpolated]
    assert [p.text for p in pieces][:3] == ['"a {', "} b {", '}"']


@pytest.mark.parametrize(
    "text",
    [
        'trace[Meta.debug] "{(by_elab pure ())}"',  # a notation's interpolatedStr argument
        'throwErrorAt ref "{(by_elab pure ())}"',
        'foo "{run_cmd}"',
    ],
)
def test_braces_of_a_string_lean_may_interpolate_are_read_as_code(text: str) -> None:
    """Only the parser before a string decides whether Lean interpolates it, and a notation's
    `interpolatedStr` argument is invisible here: the code a reading could run is read."""
    words = [t.text for t in tokenize(text) if t.kind is TokenKind.IDENT]
    assert {"by_elab", "run_cmd"} & set(words)


@pytest.mark.parametrize(
    "text",
    ['#check foo! "{/-"\n#eval IO.println 1\n-- -/}"', 'def s := "{"\n#eval 1 --"'],
)
def test_a_string_whose_two_readings_end_apart_is_malformed(text: str) -> None:
    tokens = tokenize(text)
    malformed = [t for t in tokens if t.kind is TokenKind.MALFORMED]
    assert malformed and malformed[0].problem and malformed[0].text.startswith('"{')
    assert any(t.kind is TokenKind.HASH and t.text == "#eval" for t in tokens)


def test_a_string_read_alike_both_ways_is_not_malformed() -> None:
    tokens = tokenize('example : "{a} }".length = 5 := by decide')
    assert not any(t.kind is TokenKind.MALFORMED for t in tokens)


def test_throw_error_strings_are_interpolated() -> None:
    words = [t.text for t in tokenize('throwError "x {run_tac foo}"') if t.kind is TokenKind.IDENT]
    assert "run_tac" in words


def test_nested_interpolation_beyond_the_limit_does_not_recurse() -> None:
    text = 's!"{' * 500 + "x" + '}"' * 500
    tokens = tokenize(text)
    assert any(t.kind is TokenKind.MALFORMED for t in tokens)


def test_positions_are_codepoints() -> None:
    text = "theorem ℕα\n  (h : 𝒜 = 𝒜) :=\n/- multi\nline -/ by"
    tokens = tokenize(text)
    by_text = {t.text: t for t in reversed(tokens)}  # the first of equal texts wins
    assert (by_text["ℕα"].line, by_text["ℕα"].column) == (1, 8)
    assert (by_text["𝒜"].line, by_text["𝒜"].column) == (2, 7)
    assert [t.column for t in tokens if t.text == "𝒜"] == [7, 11]
    comment = by_text["/- multi\nline -/"]
    assert (comment.line, comment.column, comment.end_line, comment.end_column) == (3, 0, 4, 7)
    assert (by_text["by"].line, by_text["by"].column) == (4, 8)


def _check_invariants(text: str, tokens: list[Token]) -> None:
    previous_end = 0
    lines = text.split("\n")
    for token in tokens:
        assert previous_end <= token.start < token.end <= len(text)
        assert token.text == text[token.start : token.end]
        assert text[previous_end : token.start].strip(" \t\r\n") == ""
        assert lines[token.line - 1][token.column :].startswith(token.text.split("\n", 1)[0])
        previous_end = token.end
    assert text[previous_end:].strip(" \t\r\n") == ""


_lean_alphabet = st.sampled_from(
    list("ab_'.«»\"'\\{}()[]#@-/!?%$:=+*<>, \n\trs0x19λαℕ₁⁻¹⟨⟩'`«\u202e\u200b")
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_lean_alphabet, max_size=120))
def test_lexer_never_raises_and_covers_the_text(text: str) -> None:
    _check_invariants(text, tokenize(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_lexer_never_raises_on_any_unicode(text: str) -> None:
    tokens = tokenize(text)
    assert all(token.text for token in tokens)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_lean_alphabet, max_size=120))
def test_lazy_tokens_are_the_same_tokens(text: str) -> None:
    assert list(iter_tokens(text)) == tokenize(text)
