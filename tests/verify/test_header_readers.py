"""The header split, assembly and the policy read one header the same way (they once disagreed:
`import all M` was module `all` to the split and `M` to the others; `public import M` no import)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proofgate.lean.header import split_header
from proofgate.models import Submission
from proofgate.verify.assemble import assemble, parse_statement
from proofgate.verify.policy import PolicyConfig, check_source, check_submission

NOTHING_ALLOWED = PolicyConfig(import_roots=frozenset())

_modules = st.from_regex(r"[A-Z][a-z]{0,4}(\.[A-Z][a-z]{0,3}){0,2}", fullmatch=True)
_gaps = st.sampled_from([" ", "  ", " /- c -/ ", "\n  ", " -- note\n  ", " /- a /- b -/ -/\n"])
_between = st.sampled_from(["", "\n", "-- line\n", "/- block -/\n", "  \n", "/- x\n y -/ "])
_imports = st.lists(
    st.tuples(
        _between,
        st.sampled_from(["", "public", "meta", "public meta"]),
        st.booleans(),  # `all`
        _modules,
        _gaps,
    ),
    max_size=4,
)


def _write(
    module: bool, prelude: bool, imports: list[tuple[str, str, bool, str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """The source, and (line, column) of each imported module in it."""
    text = ("module\n" if module else "") + ("prelude\n" if prelude else "")
    places = []
    for between, modifiers, import_all, name, gap in imports:
        words = [*modifiers.split(), "import", *(["all"] if import_all else [])]
        text += between + gap.join(words) + gap
        places.append((text.count("\n") + 1, len(text) - (text.rfind("\n") + 1)))
        text += name + "\n"
    return text + "\ntheorem t : True := sorry\n", places


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.booleans(), _imports)
def test_the_split_assembly_and_the_policy_agree_on_the_imported_modules(
    module: bool, prelude: bool, imports: list[tuple[str, str, bool, str, str]]
) -> None:
    text, places = _write(module, prelude, imports)
    names = tuple(name for *_, name, _gap in imports)
    split, statement = split_header(text), parse_statement(text)
    assert split.imports == statement.imports == names
    assert split.header == statement.header.text
    refused = [
        (v.line, v.column)
        for v in check_source(text, NOTHING_ALLOWED).violations
        if v.rule == "import-not-allowed"
    ]
    assert refused == places  # each module, where it stands, and nothing else
    # code without a header of its own runs under exactly the statement's header
    assembled = assemble(Submission(statement=text, code="theorem t : True := ⟨⟩\n"))
    assert split_header(assembled.text).header == split.header
    found = check_submission(assembled, NOTHING_ALLOWED).violations
    assert sorted((v.line, v.column) for v in found if v.rule == "import-not-allowed") == places
