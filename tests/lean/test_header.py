"""Splitting a submission into header and body, and mapping reply positions back to it."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from proofgate.lean.header import map_body_positions, map_header_positions, split_header
from proofgate.lean.reply import ReplPos, ReplReply


def test_no_imports_is_its_own_header_and_the_body_is_untouched() -> None:
    code = "theorem t : True := trivial\n"
    split = split_header(code)
    assert (split.imports, split.header, split.body, split.header_lines) == ((), "", code, 0)


def test_imports_with_comments_before_and_between() -> None:
    code = (
        "-- a proof\n"
        "/- block /- nested -/ still comment -/\n"
        "\n"
        "import Mathlib.Data.Nat.Basic\n"
        "-- between\n"
        "import   Aesop -- trailing\n"
        "open Nat\n"
        "theorem t : 1 = 1 := rfl\n"
    )
    split = split_header(code)
    assert split.imports == ("Mathlib.Data.Nat.Basic", "Aesop")
    assert split.header == "import Mathlib.Data.Nat.Basic\nimport Aesop"
    assert split.header_lines == 6
    assert split.body == "open Nat\ntheorem t : 1 = 1 := rfl\n"
    assert [s.words for s in split.sites] == [((0, 4, 0), (7, 4, 7)), ((0, 6, 0), (7, 6, 9))]


def test_code_after_the_last_import_on_its_line_keeps_its_columns() -> None:
    code = "import Mathlib open Nat\ntheorem t : True := trivial"
    split = split_header(code)
    assert split.imports == ("Mathlib",)
    assert split.header_lines == 0
    assert split.body == " " * len("import Mathlib") + " open Nat\ntheorem t : True := trivial"


def test_only_leading_imports_count() -> None:
    code = "open Nat\nimport Mathlib\n"
    assert split_header(code).imports == ()
    assert split_header("/-- doc -/\nimport Mathlib\n").imports == ()  # a doc comment is not trivia
    assert split_header("imports := 1\n").imports == ()
    assert split_header("import\n  Mathlib\nexample : True := trivial").imports == ("Mathlib",)


def test_guillemets_unterminated_comment_and_crlf() -> None:
    assert split_header("import «My Module».Sub\n").imports == ("«My Module».Sub",)
    split = split_header("import A /- never closed\ntheorem x : True := trivial")
    assert split.imports == ("A",) and split.header_lines == 0
    assert split.body.startswith(" " * len("import A") + " /- never closed")
    crlf = split_header("import A\r\nimport B\r\ntheorem x : True := trivial\r\n")
    assert crlf.imports == ("A", "B") and crlf.header_lines == 2
    assert crlf.body == "theorem x : True := trivial\r\n"


def test_import_modifiers_stay_in_the_header_and_imports_name_the_modules() -> None:
    code = (
        "import all Mathlib.Foo\n"
        "public import Mathlib.Bar\n"
        "meta import Aesop\n"
        "public meta import all Qq -- all four modifiers\n"
        "theorem t : True := trivial\n"
    )
    split = split_header(code)
    assert split.imports == ("Mathlib.Foo", "Mathlib.Bar", "Aesop", "Qq")
    assert split.header == (
        "import all Mathlib.Foo\npublic import Mathlib.Bar\nmeta import Aesop\n"
        "public meta import all Qq"
    )
    assert (split.header_lines, split.body) == (4, "theorem t : True := trivial\n")
    # `import all M` is another environment than `import M`: the pool's key (the header) differs
    plain, opened = split_header("import Mathlib.Foo\n"), split_header("import all Mathlib.Foo\n")
    assert plain.imports == opened.imports == ("Mathlib.Foo",)
    assert (plain.header, opened.header) == ("import Mathlib.Foo", "import all Mathlib.Foo")


def test_module_and_prelude_lead_the_header() -> None:
    split = split_header("module\n\nprelude -- no Init\nimport Init.Core\ntheorem t : True := ⟨⟩")
    assert split.header == "module\nprelude\nimport Init.Core"
    assert split.imports == ("Init.Core",)
    assert (split.header_lines, split.body) == (4, "theorem t : True := ⟨⟩")
    assert split_header("prelude\ntheorem t : True := ⟨⟩").header == "prelude"


def test_modifiers_without_an_import_are_body() -> None:
    for code in ("public section\nimport A\n", "meta def f := 1\n", "import all\nopen A\n"):
        split = split_header(code)
        assert (split.imports, split.header, split.body) == ((), "", code), code
    split = split_header("import A\npublic section\nmeta def f := 1\n")
    assert split.header == "import A" and split.body == "public section\nmeta def f := 1\n"


def test_comments_inside_an_import_and_a_block_comment_past_its_line() -> None:
    split = split_header("public /- a -/ import -- b\n  all Mathlib.Foo\nopen Nat\n")
    assert (split.header, split.header_lines, split.body) == (
        "public import all Mathlib.Foo",
        2,
        "open Nat\n",
    )
    # A block comment that opens on the last header line and closes on a later one: the lines stay
    split = split_header("import A /- one\ntwo -/\ntheorem x : True := trivial")
    assert split.imports == ("A",) and split.header_lines == 0
    assert split.body == " " * len("import A") + " /- one\ntwo -/\ntheorem x : True := trivial"


def test_body_positions_move_by_the_removed_lines_everywhere() -> None:
    reply = {
        "env": 3,
        "messages": [
            {
                "severity": "error",
                "pos": {"line": 2, "column": 4},
                "endPos": {"line": 2, "column": 9},
                "data": "x",
            },
            {
                "severity": "info",
                "pos": {"line": 0, "column": 0},
                "endPos": {"line": 0, "column": 0},
                "data": "y",
            },
        ],
        "sorries": [{"proofState": 0, "goal": "⊢ True"}],
        "infotree": [
            {
                "node": {
                    "stx": {
                        "range": {
                            "start": {"line": 1, "column": 0},
                            "finish": {"line": 3, "column": 2},
                        }
                    }
                }
            }
        ],
    }
    original = copy.deepcopy(reply)
    mapped = map_body_positions(ReplReply.parse(reply), 5).raw
    assert reply == original  # not mutated
    assert mapped["messages"][0]["pos"] == {"line": 7, "column": 4}
    assert mapped["messages"][0]["endPos"] == {"line": 7, "column": 9}
    assert mapped["messages"][1]["pos"] == {"line": 0, "column": 0}  # "no position" stays
    assert mapped["infotree"][0]["node"]["stx"]["range"]["finish"] == {"line": 8, "column": 2}
    assert mapped["sorries"] == reply["sorries"] and mapped["env"] == 3


def test_header_positions_map_to_each_import_site() -> None:
    split = split_header(
        "-- intro\nimport Mathlib\n\n  import   Standin.Missing\nexample : True := trivial"
    )
    reply = {
        "env": 0,
        "messages": [
            {
                "severity": "error",
                "pos": {"line": 2, "column": 0},
                "endPos": {"line": 2, "column": 22},
                "data": "unknown module",
            }
        ],
    }
    mapped = map_header_positions(ReplReply.parse(reply), split).raw["messages"][0]
    assert mapped["pos"] == {"line": 4, "column": 2}
    assert mapped["endPos"] == {"line": 4, "column": 11 + 15}


def test_header_positions_map_each_word_where_it_stood() -> None:
    split = split_header("module\npublic\n  import all\n    Standin.Missing\nexample : True := ⟨⟩")
    assert split.header == "module\npublic import all Standin.Missing"

    def at(line: int, column: int) -> ReplPos | None:
        message = {"severity": "error", "data": "x", "pos": {"line": line, "column": column}}
        return map_header_positions(ReplReply.parse({"messages": [message]}), split).messages[0].pos

    assert at(2, 18) == ReplPos(line=4, column=4)  # the module, on its own line
    assert at(2, 33) == ReplPos(line=4, column=19)
    assert at(1, 3) == ReplPos(line=1, column=3)
    assert at(2, 7) == ReplPos(line=3, column=2)


_modules = st.from_regex(r"[A-Z][a-z]{0,5}(\.[A-Z][a-z]{0,4}){0,2}", fullmatch=True)
_trivia = st.sampled_from(["", "\n", "-- note\n", "/- c -/\n", "  \n"])
_body = st.text(alphabet="abxyz :=()-/\nαβ⊢𝔽", max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_trivia, _modules), max_size=4), st.sampled_from(["\n", " ", "\n\n"]), _body
)
def test_body_lines_keep_the_submitters_lines_and_columns(
    imports: list[tuple[str, str]], gap: str, body: str
) -> None:
    code = "".join(f"{trivia}import {module}\n" for trivia, module in imports)
    code = code[:-1] + gap + body if imports else body
    split = split_header(code)
    assert split.imports[: len(imports)] == tuple(module for _, module in imports)
    original = code.split("\n")
    if not split.body:  # the code ended on its last import line: nothing to map
        return
    for index, line in enumerate(split.body.split("\n")):
        source = original[split.header_lines + index]
        if index == 0 and line != source:
            assert len(line) == len(source)  # padded with spaces: same columns, in codepoints
            assert (
                source.endswith(line.lstrip(" "))
                and not line[: len(line) - len(line.lstrip(" "))].strip()
            )
        else:
            assert line == source
