"""The export reader (src/proofgate/verify/export.py, docs/export-format.md) refuses every broken,
oversized, mismatched or cut export with a reason, and never recurses on a term's depth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proofgate.verify.export import (
    DECLARATION_KINDS,
    FORMAT_NAME,
    FORMAT_VERSION,
    REFUSAL_CODES,
    Export,
    ExportLimits,
    ExportParser,
    ExportRefusal,
    LeanPin,
    parse_export,
)
from tests.standins.exporter import STANDIN_GITHASH, Exporter, render

PIN = LeanPin("4.32.0", STANDIN_GITHASH)


def honest() -> Exporter:
    """t1 : ∀ n : Nat, n = n := fun n => rfl, a definition, an inductive."""
    e = Exporter()
    nat = e.const("Nat")
    e.theorem(
        "t1",
        e.forall("n", nat, e.app(e.const("Eq", 1), nat, e.bvar(0), e.bvar(0))),
        e.lam("n", nat, e.app(e.const("rfl", 1), nat, e.bvar(0))),
    )
    e.definition("f", nat, e.nat(42))
    e.inductive("Foo", e.sort(1), [("Foo.a", e.const("Foo"))])
    return e


def parsed(data: bytes, **kwargs: Any) -> Export:
    result = parse_export(data, lean=PIN, **kwargs)
    assert isinstance(result, Export), result
    return result


def refused(data: bytes, code: str, **kwargs: Any) -> ExportRefusal:
    result = parse_export(data, lean=PIN, **kwargs)
    assert isinstance(result, ExportRefusal), f"accepted, expected {code}"
    assert result.code == code, result
    assert result.code in REFUSAL_CODES
    return result


def edited(records: list[dict[str, Any]], fix_trailer: bool = True) -> bytes:
    """The records as an export, the trailer's counts made right again (so only the edit is
    wrong)."""
    records = [r for r in records if "end" not in r]
    if fix_trailer:
        count = sum(_constants(r) for r in records)
        records.append({"end": {"lines": len(records), "declarations": count}})
    return render(records)


def _constants(record: dict[str, Any]) -> int:
    if "inductive" in record:
        group = record["inductive"]
        return len(group["types"]) + len(group["ctors"]) + len(group["recs"])
    return 1 if len(record) == 1 and next(iter(record)) in DECLARATION_KINDS else 0


def appended(record: dict[str, Any]) -> bytes:
    """The honest export with `record` added before the trailer; an index of None in it becomes
    the next free index of its table."""
    records = honest().records()[:-1]
    record = dict(record)
    for key in ("in", "il", "ie"):
        if key in record and record[key] is None:
            record[key] = 1 + max(
                (r[key] for r in records if key in r), default=-1 if key == "ie" else 0
            )
    return edited([*records, record])


def index_of(records: list[dict[str, Any]], predicate: Any) -> int:
    return next(i for i, r in enumerate(records) if predicate(r))


# --- an honest export ---------------------------------------------------------------------------


def test_an_honest_export_parses() -> None:
    export = parsed(honest().export())
    assert export.meta.module == "ProofgateSubmission"
    assert export.meta.imports == ("Mathlib",)
    assert (export.meta.format_version, export.meta.lean_version) == (FORMAT_VERSION, "4.32.0")
    kinds = {d.name: d.kind for d in export.declarations}
    assert kinds == {
        "t1": "theorem",
        "f": "definition",
        "Foo": "inductive",
        "Foo.a": "constructor",
        "Foo.rec": "recursor",
    }
    t1 = export.declaration("t1")
    assert t1 is not None and t1.value is not None
    assert export.constants_used([t1.type]) == {"Nat", "Eq"}
    assert export.constants_used(t1.exprs) == {"Nat", "Eq", "rfl"}


def test_chunks_give_the_same_export_as_the_whole() -> None:
    data = honest().export()
    whole = parsed(data)
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    result = parse_export(chunks, lean=PIN)
    assert isinstance(result, Export)
    assert [d.name for d in result.declarations] == [d.name for d in whole.declarations]


def test_without_terms_the_reader_still_bounds_and_lists() -> None:
    export = parsed(honest().export(), keep_terms=False)
    assert export.declaration("t1") is not None and export.exprs is None
    with pytest.raises(ValueError, match="keep_terms"):
        export.term_key(0)


def test_term_keys_ignore_binder_names_and_info_and_rename_universes_by_position() -> None:
    a, b = Exporter(), Exporter()
    for e, binder, info, u in ((a, "x", "default", "u"), (b, "y", "implicit", "v")):
        sort = e.sort(u)
        e.theorem("t", e.forall(binder, sort, e.bvar(0), info), e.sort(0), (u,))
    ea, eb = parsed(a.export()), parsed(b.export())
    ta, tb = ea.declaration("t"), eb.declaration("t")
    assert ta is not None and tb is not None
    assert ea.term_key(ta.type) != eb.term_key(tb.type)  # u is not v
    assert ea.term_key(ta.type, ta.level_params) == eb.term_key(tb.type, tb.level_params)


# --- every refusal ------------------------------------------------------------------------------


def test_a_truncated_export_is_refused() -> None:
    data = honest().export()
    refused(data[: data.rindex(b'{"end"')], "truncated")  # no trailer
    refused(data[:-1], "truncated")  # the trailer's line has no newline
    cut = refused(data[: len(data) // 2], "truncated")  # cut mid-line
    assert "no final newline" in cut.reason
    assert refused(b"", "truncated").line is None


def test_bytes_after_the_end_are_refused() -> None:
    refused(honest().export() + b'{"in":99,"str":{"pre":0,"str":"x"}}\n', "data_after_end")


def test_a_wrong_trailer_is_refused() -> None:
    records = honest().records()
    records[-1]["end"]["declarations"] += 1
    refused(render(records), "trailer_mismatch")
    records = honest().records()
    records[-1]["end"]["lines"] -= 1
    refused(render(records), "trailer_mismatch")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", {"name": FORMAT_NAME, "version": FORMAT_VERSION + 1}),
        ("format", {"name": "lean4export", "version": FORMAT_VERSION}),
        ("format", {"name": FORMAT_NAME, "version": True}),  # JSON's true, though True == 1
        ("lean", {"version": "4.31.0", "githash": STANDIN_GITHASH}),
        ("lean", {"version": "4.32.0", "githash": "1" * 40}),
    ],
)
def test_a_version_mismatch_is_refused(field: str, value: dict[str, Any]) -> None:
    records = honest().records()
    records[0]["meta"][field] = value
    result = refused(render(records), "version_mismatch")
    assert result.line == 1 and result.outcome == "export_invalid"


def test_without_a_pin_the_lean_version_is_not_compared() -> None:
    records = honest().records()
    records[0]["meta"]["lean"]["version"] = "4.31.0"
    assert isinstance(parse_export(render(records)), Export)


def test_the_first_line_must_be_the_meta_record() -> None:
    records = honest().records()
    refused(edited(records[1:]), "missing_meta")
    records[0]["meta"]["extra"] = 1
    refused(render(records), "bad_field")


def test_an_unknown_record_kind_is_refused() -> None:
    records = honest().records()
    for record in (
        {"universe": {"x": 1}},
        {"in": 9, "sym": {"pre": 0, "str": "x"}},
        {"ie": 40, "fvar": 1},
        {"il": 9, "mvar": 1},
    ):
        bad = [*records[:-1], record]
        assert refused(edited(bad), "unknown_record").line == len(bad)
    refused(edited([*records[:-1], {"thm": {}, "ie": 3}]), "unknown_record")
    refused(edited([*records[:-1], records[0]]), "unknown_record")  # a second meta


def test_a_forward_reference_is_refused() -> None:
    records = honest().records()
    # the theorem's line refers to the expression defined after it
    at = index_of(records, lambda r: "thm" in r)
    records[at]["thm"]["value"] = 10_000
    assert "not defined yet" in refused(edited(records), "forward_reference").reason
    records = honest().records()
    at = index_of(records, lambda r: r.get("ie") == 3)
    records[at]["app"]["fn"] = 3  # itself: a cycle is a forward reference
    refused(edited(records), "forward_reference")
    records = honest().records()
    at = index_of(records, lambda r: "in" in r and r["in"] == 2)
    records[at]["str"]["pre"] = 2
    refused(edited(records), "forward_reference")


def test_a_duplicate_or_skipped_index_is_refused() -> None:
    records = honest().records()
    at = index_of(records, lambda r: r.get("ie") == 3)
    refused(edited([*records[: at + 1], {**records[at]}, *records[at + 1 :]]), "duplicate_index")
    records[at]["ie"] = 4
    refused(edited(records), "index_gap")
    names = honest().records()
    at = index_of(names, lambda r: r.get("in") == 1)
    names[at]["in"] = 0  # 0 is the anonymous name, never defined
    refused(edited(names), "duplicate_index")


def test_a_constant_declared_twice_is_refused() -> None:
    records = honest().records()
    at = index_of(records, lambda r: "thm" in r)
    refused(edited([*records[:-1], records[at]]), "duplicate_declaration")


def test_mdata_is_refused() -> None:
    refused(appended({"ie": None, "mdata": {"expr": 0, "data": {}}}), "mdata")


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"in": 9, "str": {"pre": 0, "str": "x"}} {"in": 10}',
        b'{"ie": 14, "bvar": 1.0}',
        b'{"ie": 14, "bvar": -1}',
        b'{"ie": 14, "bvar": 007}',
        b'{"ie": 14, "bvar": 12345678901}',
        b'{"ie": 14, "bvar": NaN}',
        b'{"ie": 14, "strVal": "\\ud800"}',
    ],
)
def test_a_line_that_is_not_one_strict_json_object_is_refused(line: bytes) -> None:
    data = honest().export()
    head = data[: data.rindex(b'{"end"')]
    refused(head + line + b"\n", "bad_json")


def test_duplicate_keys_non_utf8_and_deep_json_are_refused() -> None:
    data = honest().export()
    head = data[: data.rindex(b'{"end"')]
    refused(head + b'{"ie": 14, "bvar": 1, "bvar": 2}\n', "duplicate_key")
    refused(head + b'{"ie": 14, "strVal": "\xff"}\n', "not_utf8")
    refused(head + b'{"ie": 14, "strVal": ' + b"[" * 7 + b"]" * 7 + b"}\n", "json_nesting")
    refused(head + b"[" * 100_000 + b"]" * 100_000 + b"\n", "json_nesting")


@pytest.mark.parametrize(
    "record",
    [
        {"ie": None, "natVal": "007"},
        {"ie": None, "natVal": "-1"},
        {"ie": None, "natVal": 7},
        {"ie": None, "bvar": True},
        {"ie": None, "lam": {"name": 0, "type": 0, "body": 0, "binderInfo": "auxDecl"}},
        {"ie": None, "app": {"fn": 0, "arg": 0, "extra": 0}},
        {"ie": None, "app": {"fn": 0}},
        {"ie": None, "const": {"name": 0, "us": []}},
        {"ie": None, "proj": {"typeName": 1, "idx": 2**32, "struct": 0}},
        {"il": None, "max": [0]},
        {"il": None, "param": 0},
        {"in": None, "num": {"pre": 0, "i": "1"}},
        {
            "def": {
                "name": 1,
                "levelParams": [],
                "type": 0,
                "value": 0,
                "hints": "x",
                "safety": "safe",
                "all": [],
            }
        },
        {
            "def": {
                "name": 1,
                "levelParams": [],
                "type": 0,
                "value": 0,
                "hints": {"regular": 1},
                "safety": "meh",
                "all": [],
            }
        },
        {"quot": {"name": 1, "levelParams": [], "type": 0, "kind": "other"}},
        {"axiom": {"name": 0, "levelParams": [], "type": 0, "isUnsafe": False}},
        {"axiom": {"name": 1, "levelParams": [], "type": 0, "isUnsafe": 0}},
        {"inductive": {"types": [], "ctors": [], "recs": []}},
    ],
)
def test_a_field_of_the_wrong_shape_or_range_is_refused(record: dict[str, Any]) -> None:
    refused(appended(record), "bad_field")


def test_every_refusal_code_is_exercised_here() -> None:
    source = Path(__file__).read_text("utf-8")
    for code in REFUSAL_CODES:
        assert f'"{code}"' in source, f"no test refuses with {code}"


# --- every limit --------------------------------------------------------------------------------


def deep(depth: int) -> bytes:
    """An export whose one theorem's type is an application `depth` levels deep."""
    e = Exporter()
    term = e.const("Nat")
    f = e.const("Nat.succ")
    for _ in range(depth - 1):
        term = e.app(f, term)
    e.theorem("t", term, e.const("h"))
    return e.export()


@pytest.mark.parametrize(
    ("limit", "data", "limits"),
    [
        ("bytes", b"", ExportLimits(bytes=100)),
        ("line_bytes", b"", ExportLimits(line_bytes=100)),
        ("lines", b"", ExportLimits(lines=10)),
        ("term_nodes", b"", ExportLimits(term_nodes=10)),
        ("declarations", b"", ExportLimits(declarations=2)),
        ("expr_depth", deep(51), ExportLimits(expr_depth=50)),
        ("level_depth", b"", ExportLimits(level_depth=2)),
        ("name_depth", b"", ExportLimits(name_depth=2)),
        ("nat_digits", b"", ExportLimits(nat_digits=1)),
    ],
)
def test_every_limit_refuses_an_export_over_it(
    limit: str, data: bytes, limits: ExportLimits
) -> None:
    e = honest()
    e.theorem("A.b.c", e.sort(3), e.const("h"))  # a 3-component name, a level of depth 4
    data = data or e.export()
    result = parse_export(data, lean=PIN, limits=limits)
    assert isinstance(result, ExportRefusal), f"{limit}: accepted"
    assert (result.outcome, result.code, result.limit) == ("export_too_large", "limit", limit)
    assert isinstance(parse_export(data, lean=PIN), Export)  # within the defaults


def test_the_depth_limit_is_exact_and_the_reader_is_not_recursive() -> None:
    assert isinstance(parse_export(deep(50), lean=PIN, limits=ExportLimits(expr_depth=50)), Export)
    # Deeper than Python's recursion limit: a recursive reader would fail here.
    export = parsed(deep(5_000))
    assert export.max_expr_depth == 5_000
    t = export.declaration("t")
    assert t is not None
    assert len(export.term_key(t.type)) == 32
    assert export.constants_used([t.type]) == {"Nat", "Nat.succ"}


def test_a_bound_variable_index_is_bounded_by_the_depth_limit() -> None:
    bad = appended({"ie": None, "bvar": 20_000})
    refused(bad, "bad_field")
    assert isinstance(parse_export(bad, lean=PIN, limits=ExportLimits(expr_depth=20_001)), Export)


def test_an_overlong_line_is_refused_before_its_newline_arrives() -> None:
    parser = ExportParser(lean=PIN, limits=ExportLimits(line_bytes=1_000))
    parser.feed(honest().export().split(b"\n", 1)[0] + b"\n")
    parser.feed(b"x" * 1_001)  # no newline yet
    result = parser.close()
    assert isinstance(result, ExportRefusal) and result.limit == "line_bytes"
    assert result.line == 2


def test_a_refusal_stops_the_reader() -> None:
    parser = ExportParser(lean=PIN)
    parser.feed(b"garbage\n")
    parser.feed(honest().export())
    result = parser.close()
    assert isinstance(result, ExportRefusal) and result.line == 1
