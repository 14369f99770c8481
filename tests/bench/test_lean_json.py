"""The simulated REPL prints JSON exactly as Lean's `Json.pretty` does."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from proofgate.bench.lean_json import lean_json_pretty, lean_json_string


def test_every_recorded_reply_re_renders_byte_for_byte(shared_dir: Path) -> None:
    replies = [
        chunk
        for path in sorted((shared_dir / "lean-repl-transcripts").glob("*/*.expected.out"))
        for chunk in path.read_text("utf-8").split("\n\n")
        if chunk.strip()
    ]
    assert len(replies) > 200
    mismatched = [chunk for chunk in replies if lean_json_pretty(json.loads(chunk)) != chunk]
    assert mismatched == []


def test_strings_escape_what_lean_escapes_and_nothing_else() -> None:
    assert lean_json_string('a"b\\c\nd\re\x01f\x7f⊢𝔽') == '"a\\"b\\\\c\\nd\\re\\u0001f\x7f⊢𝔽"'


def test_keys_come_out_in_descending_order_and_short_values_stay_on_one_line() -> None:
    assert (
        lean_json_pretty({"env": 0, "messages": [], "sorries": [1]})
        == '{"sorries": [1], "messages": [], "env": 0}'
    )


def test_long_values_break_after_commas_with_bracket_indentation() -> None:
    text = lean_json_pretty({"goals": ["x" * 40, "y" * 40], "proofState": 1})
    assert (
        text
        == '{"proofState": 1,\n "goals":\n ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",\n  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"]}'  # noqa: E501
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=0, max_value=10**6) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_json)
def test_output_is_the_same_json_value_and_has_no_blank_line(value: object) -> None:
    text = lean_json_pretty(value)
    assert json.loads(text) == value
    assert "\n\n" not in text
