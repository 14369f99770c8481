"""The stand-in checker's export mode (tests/standins/export_checker.py) applies the collision table
of docs/audit-design.md (section 6, requirement 3) and answers in contract 2, which proofgate's
strict reader accepts. Run as a separate program, as the real checker is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.verify.contract import ExportAuditReport, parse_report
from proofgate.verify.export import Export, LeanPin, parse_export
from tests.standins.exporter import STANDIN_GITHASH, Exporter

CHECKER = Path(__file__).resolve().parents[1] / "standins" / "checker.py"
AXIOMS = ["propext", "Classical.choice", "Quot.sound"]
ROOTS = ["Init", "Mathlib"]


def statement(e: Exporter) -> int:
    """∀ n : Nat, n + 0 = n"""
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    return e.forall("n", nat, e.app(e.const("Eq", 1), nat, e.app(add, e.nat(0)), e.bvar(0)))


def proof(e: Exporter) -> int:
    return e.lam("n", e.const("Nat"), e.app(e.const("Nat.add_zero"), e.bvar(0)))


def reference() -> Exporter:
    e = Exporter()
    e.theorem("t1", statement(e), e.app(e.const("sorryAx"), e.const("Nat")))
    return e


def honest() -> Exporter:
    e = Exporter()
    e.theorem("t1", statement(e), proof(e))
    return e


def imported_module() -> Exporter:
    """What the imports hold, as an export: Nat.add_zero, a definition, an axiom."""
    e = Exporter(module="Mathlib")
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    e.theorem(
        "Nat.add_zero",
        e.forall("n", nat, e.app(e.const("Eq", 1), nat, e.app(add, e.nat(0)), e.bvar(0))),
        e.const("rfl"),
    )
    e.definition("Nat.double", e.forall("n", nat, nat), e.lam("n", nat, e.app(add, e.bvar(0))))
    e.axiom("Classical.choice", e.sort(0))
    return e


IMPORTED_NAMES = [
    "Nat", "True", "True.intro", "HAdd.hAdd", "instHAdd", "Eq", "rfl", "sorryAx", "propext",
]  # fmt: skip


def imports_json(tmp_path: Path) -> Path:
    """simulated-imports.json: the imported module's constants, plus bare names every export
    here uses (their keys are never compared: nothing redeclares them)."""
    module = parse_export(imported_module().export(), lean=LeanPin("4.32.0", STANDIN_GITHASH))
    assert isinstance(module, Export)
    axioms = {"Nat.add_zero": ["propext"], "Nat.double": []}
    constants = [
        {
            "name": d.name,
            "kind": d.kind,
            "level_params": list(d.level_params),
            "type": module.term_key(d.type),
            "constant": module.constant_key(d),
            "axioms": axioms.get(d.name, []),
        }
        for d in module.declarations
    ]
    constants += [
        {"name": n, "kind": "axiom" if n in ("sorryAx", "propext") else "definition",
         "level_params": [], "type": "", "constant": "", "axioms": []}
        for n in IMPORTED_NAMES
    ]  # fmt: skip
    path = tmp_path / "simulated-imports.json"
    path.write_text(json.dumps({"constants": constants}), encoding="utf-8")
    return path


def run(
    tmp_path: Path,
    submission: Exporter | bytes,
    *,
    ref: Exporter | bytes | None = None,
    target: str | None = "t1",
    holes: tuple[str, ...] = (),
    scenario: dict[str, Any] | None = None,
) -> ExportAuditReport:
    imports_json(tmp_path)
    sub_path, ref_path = tmp_path / "sub.ndjson", tmp_path / "ref.ndjson"
    sub_path.write_bytes(submission if isinstance(submission, bytes) else submission.export())
    argv = ["--submission-export", str(sub_path), "--check", "7"]
    if target is not None:
        ref = reference() if ref is None else ref
        ref_path.write_bytes(ref if isinstance(ref, bytes) else ref.export())
        argv += ["--reference-export", str(ref_path), "--target", target]
    for axiom in AXIOMS:
        argv += ["--axiom", axiom]
    for root in ROOTS:
        argv += ["--module-root", root]
    for hole in holes:
        argv += ["--answer-hole", hole]
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_text(json.dumps(scenario or {}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(CHECKER), str(scenario_path), *argv],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    result = parse_report(done.stdout)  # proofgate's strict contract-2 reader
    assert isinstance(result, ExportAuditReport)
    assert result.check == 7
    return result


def test_an_honest_proof_is_ok_with_the_imports_axioms(tmp_path: Path) -> None:
    report = run(tmp_path, honest())
    assert report.outcome.value == "ok", report.detail
    assert report.target_axioms == ["propext"] and report.disallowed_axioms == []
    assert [(d.name, d.replayed) for d in report.declarations] == [("t1", True)]
    assert report.collisions == []


# --- the collision table, row by row ------------------------------------------------------------


def test_row_1_an_identical_imported_theorem_is_a_collision_not_replayed(tmp_path: Path) -> None:
    e = honest()
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    # another proof of the same statement: proofs are irrelevant, the imported one was checked
    e.theorem(
        "Nat.add_zero",
        e.forall("k", nat, e.app(e.const("Eq", 1), nat, e.app(add, e.nat(0)), e.bvar(0))),
        e.const("Nat.add_zero"),
    )
    report = run(tmp_path, e)
    assert report.outcome.value == "ok", report.detail
    assert [(c.name, c.kind, c.identical) for c in report.collisions] == [
        ("Nat.add_zero", "theorem", True)
    ]
    assert "Nat.add_zero" not in {d.name for d in report.declarations}


def test_row_1_an_imported_theorem_with_another_type_is_refused(tmp_path: Path) -> None:
    e = honest()
    e.theorem("Nat.add_zero", e.sort(0), e.const("rfl"))
    report = run(tmp_path, e)
    assert (report.outcome.value, report.declaration) == ("import_redeclared", "Nat.add_zero")
    assert [(c.name, c.identical) for c in report.collisions] == [("Nat.add_zero", False)]
    assert report.target_axioms == []


def test_row_2_an_identical_imported_definition_is_a_collision(tmp_path: Path) -> None:
    e = honest()
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    e.definition("Nat.double", e.forall("n", nat, nat), e.lam("n", nat, e.app(add, e.bvar(0))))
    report = run(tmp_path, e)
    assert report.outcome.value == "ok", report.detail
    assert [(c.name, c.kind, c.identical) for c in report.collisions] == [
        ("Nat.double", "definition", True)
    ]


@pytest.mark.parametrize("change", ["value", "hints", "kind"])
def test_row_2_an_imported_definition_changed_in_any_field_is_refused(
    tmp_path: Path, change: str
) -> None:
    e = honest()
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    type_, value = e.forall("n", nat, nat), e.lam("n", nat, e.app(add, e.bvar(0)))
    if change == "value":
        e.definition("Nat.double", type_, e.lam("n", nat, e.bvar(0)))
    elif change == "hints":
        e.definition("Nat.double", type_, value, hints="abbrev")
    else:
        e.opaque("Nat.double", type_, value)
    report = run(tmp_path, e)
    assert (report.outcome.value, report.declaration) == ("import_redeclared", "Nat.double")


def test_row_2_an_imported_axiom_redeclared_is_refused(tmp_path: Path) -> None:
    e = honest()
    e.axiom("Classical.choice", e.sort(1))
    report = run(tmp_path, e)
    assert (report.outcome.value, report.declaration) == ("import_redeclared", "Classical.choice")


def test_row_3_a_target_that_exists_in_the_imports_is_not_replayed(tmp_path: Path) -> None:
    ref = Exporter()
    ref.theorem("Nat.add_zero", statement(ref), ref.const("sorryAx"))
    e = Exporter()
    e.theorem("Nat.add_zero", statement(e), proof(e))  # identical to the imported one
    report = run(tmp_path, e, ref=ref, target="Nat.add_zero")
    assert (report.outcome.value, report.declaration) == ("target_not_replayed", "Nat.add_zero")


@pytest.mark.parametrize(
    ("build", "outcome"),
    [
        ("missing", "target_missing"),
        ("definition", "not_a_theorem"),
        ("universes", "universe_mismatch"),
        ("type", "type_mismatch"),
    ],
)
def test_row_3_the_target_is_compared_on_kind_universes_and_type(
    tmp_path: Path, build: str, outcome: str
) -> None:
    e = Exporter()
    if build == "missing":
        e.theorem("t2", statement(e), proof(e))
    elif build == "definition":
        e.definition("t1", statement(e), proof(e))
    elif build == "universes":
        e.theorem("t1", statement(e), proof(e), ("u",))
    else:
        e.theorem("t1", e.forall("n", e.const("Nat"), e.const("True")), proof(e))
    report = run(tmp_path, e)
    assert (report.outcome.value, report.declaration) == (outcome, "t1")


def test_row_3_universe_parameters_compare_up_to_renaming(tmp_path: Path) -> None:
    def with_universe(e: Exporter, u: str, value: int | None = None) -> None:
        type_ = e.forall("α", e.sort(("succ", u)), e.app(e.const("Eq", ("succ", u)), e.bvar(0)))
        e.theorem("t1", type_, value if value is not None else e.const("sorryAx"), (u,))

    ref, e = Exporter(), Exporter()
    with_universe(ref, "u")
    with_universe(e, "v", e.const("rfl"))
    report = run(tmp_path, e, ref=ref)
    assert report.outcome.value == "ok", report.detail


def helper_statement(e: Exporter, body: int, type_: str = "Nat") -> None:
    """A statement built from a helper the statement declares: def double := body; t1 : double = 0."""
    nat = e.const("Nat")
    e.definition("double", e.const(type_), body)
    e.theorem("t1", e.app(e.const("Eq", 1), nat, e.const("double"), e.nat(0)), e.const("rfl"))


def test_row_4_a_statement_constant_is_replayed_and_compared(tmp_path: Path) -> None:
    ref, same, changed = Exporter(), Exporter(), Exporter()
    for e, literal in ((ref, 0), (same, 0), (changed, 1)):
        helper_statement(e, e.nat(literal))
    assert run(tmp_path, same, ref=ref).outcome.value == "ok"
    report = run(tmp_path, changed, ref=ref)
    assert (report.outcome.value, report.declaration) == ("statement_constant_changed", "double")


def test_row_4_an_answer_hole_may_change_its_value_only(tmp_path: Path) -> None:
    ref, answer = Exporter(), Exporter()
    helper_statement(ref, ref.const("sorryAx"))
    helper_statement(answer, answer.nat(0))
    report = run(tmp_path, answer, ref=ref, holes=("double",))
    assert report.outcome.value == "ok", report.detail
    assert report.answers == {"double": "42"}
    retyped = Exporter()
    helper_statement(retyped, retyped.nat(0), type_="True")
    report = run(tmp_path, retyped, ref=ref, holes=("double",))
    assert (report.outcome.value, report.declaration) == ("statement_constant_changed", "double")


def test_row_5_other_safe_declarations_are_replayed_by_the_kernel(tmp_path: Path) -> None:
    e = honest()
    e.theorem("t1.proof_1", e.sort(0), e.const("t1"))
    report = run(tmp_path, e, target=None)
    assert report.outcome.value == "ok"
    assert {(d.name, d.replayed) for d in report.declarations} == {
        ("t1", True),
        ("t1.proof_1", True),
    }
    e.theorem("t1.proof_2", e.sort(0), e.const("Nowhere.defined"))
    report = run(tmp_path, e, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "t1.proof_2")
    assert "unknown constant 'Nowhere.defined'" in report.detail


def test_row_6_unsafe_and_partial_declarations_are_listed_not_replayed(tmp_path: Path) -> None:
    e = honest()
    e.definition("loop", e.const("Nat"), e.const("loop"), safety="partial")
    e.opaque("cheat", e.const("Nat"), e.nat(0), unsafe=True)
    report = run(tmp_path, e, target=None)
    assert report.outcome.value == "ok", report.detail
    replayed = {d.name: d.replayed for d in report.declarations}
    assert replayed == {"t1": True, "loop": False, "cheat": False}
    e.theorem("uses_it", e.app(e.const("Eq", 1), e.const("Nat"), e.const("cheat")), e.const("rfl"))
    report = run(tmp_path, e, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "uses_it")


# --- the export itself --------------------------------------------------------------------------


def test_a_truncated_export_is_export_invalid(tmp_path: Path) -> None:
    data = honest().export()
    report = run(tmp_path, data[: data.rindex(b'{"end"')])
    assert report.outcome.value == "export_invalid"
    assert "malformed" in report.detail and "end record" in report.detail
    assert report.declarations == [] and report.collisions == []


def test_a_version_mismatch_is_export_invalid(tmp_path: Path) -> None:
    report = run(tmp_path, Exporter(lean_version="4.31.0"), target=None)
    assert report.outcome.value == "export_invalid" and "Lean 4.31.0" in report.detail
    report = run(tmp_path, Exporter(format_version=2), target=None)
    assert report.outcome.value == "export_invalid" and "version 2" in report.detail


def test_an_export_over_a_limit_is_export_too_large(tmp_path: Path) -> None:
    report = run(tmp_path, honest(), scenario={"limits": {"term_nodes": 5}})
    assert report.outcome.value == "export_too_large" and "term nodes" in report.detail


def test_a_broken_reference_is_bad_input(tmp_path: Path) -> None:
    data = reference().export()
    report = run(tmp_path, honest(), ref=data[:-2])
    assert report.outcome.value == "bad_input" and "reference" in report.detail


def test_imports_outside_the_roots_are_not_allowed(tmp_path: Path) -> None:
    for imports in (("Evil",), ()):
        e = Exporter(imports=imports)
        e.theorem("t1", statement(e), proof(e))
        assert run(tmp_path, e).outcome.value == "import_not_allowed"


def test_a_new_axiom_is_reported_and_disallowed(tmp_path: Path) -> None:
    e = Exporter()
    e.axiom("cheat", statement(e))
    e.theorem("t1", statement(e), e.const("cheat"))
    report = run(tmp_path, e)
    assert report.outcome.value == "ok"
    assert report.target_axioms == ["cheat"] and report.disallowed_axioms == ["cheat"]


# --- rules the stand-in shares with the Lean checker's one-shot export mode ---------------------
# (`checkExport` in Proofgate/Checker.lean; docs/audit-design.md, section 9, step 2). Each test
# fails if the stand-in drifts back to its earlier, laxer or different rule.


def color_statement(e: Exporter, value: int | None = None, green: int | None = None) -> None:
    """inductive Color | red | green; t1 : ∀ c : Color, c = c (mentions Color, not its
    constructors)."""
    color = e.const("Color")
    e.inductive(
        "Color",
        e.sort(1),
        [("Color.red", color), ("Color.green", color if green is None else green)],
    )
    type_ = e.forall("c", color, e.app(e.const("Eq", 1), color, e.bvar(0), e.bvar(0)))
    proof = e.lam("c", color, e.app(e.const("rfl", 1), color, e.bvar(0)))
    e.theorem("t1", type_, proof if value is None else value)


def color_statement_export() -> Exporter:
    e = Exporter()
    color_statement(e)
    return e


def test_a_statement_inductive_brings_its_constructors_into_the_comparison(tmp_path: Path) -> None:
    # Lean: `referenceClosure` walks `mentions`, which lists an inductive's constructors
    # (contract 1's closureProblem does the same)
    ref = Exporter()
    color_statement(ref, ref.const("sorryAx"))
    report = run(tmp_path, color_statement_export(), ref=ref)
    assert report.outcome.value == "ok", report.detail
    # the axiom walk visits the family (the Lean walk's memo entry is the inductive and its
    # constructors), so they are listed with the target
    assert {d.name for d in report.declarations} == {"t1", "Color", "Color.red", "Color.green"}
    changed = Exporter()
    color_statement(
        changed, green=changed.forall("n", changed.const("Nat"), changed.const("Color"))
    )
    report = run(tmp_path, changed, ref=ref)
    assert (report.outcome.value, report.declaration) == (
        "statement_constant_changed",
        "Color.green",
    )


def aux_statement(e: Exporter, aux_type: int, aux_proof: int, value: int) -> None:
    """theorem aux : aux_type := aux_proof; t1 : aux = aux (a theorem of the statement)."""
    true = e.const("True")
    e.theorem("aux", aux_type, aux_proof)
    e.theorem("t1", e.app(e.const("Eq", 0), true, e.const("aux"), e.const("aux")), value)


def test_a_statement_theorem_is_compared_by_its_statement_only(tmp_path: Path) -> None:
    # Lean: `sameAsLocked` compares a theorem's `toConstantVal` (name, universe parameters, type)
    # and `referenceClosure` walks only its type, as contract 1 does: proofs are irrelevant
    ref = Exporter()
    ref.definition("junk", ref.const("True"), ref.const("sorryAx"))
    aux_statement(ref, ref.const("True"), ref.const("junk"), ref.const("sorryAx"))
    e = Exporter()  # another proof of aux, and no `junk`, which only the reference's proof used
    proof = e.app(e.const("rfl", 0), e.const("True"), e.const("aux"))
    aux_statement(e, e.const("True"), e.const("True.intro"), proof)
    report = run(tmp_path, e, ref=ref)
    assert report.outcome.value == "ok", report.detail
    restated = Exporter()
    nat = restated.const("Nat")
    zero_eq_zero = restated.app(restated.const("Eq", 1), nat, restated.nat(0), restated.nat(0))
    aux_statement(restated, zero_eq_zero, restated.const("rfl"), restated.const("rfl"))
    report = run(tmp_path, restated, ref=ref)
    assert (report.outcome.value, report.declaration) == ("statement_constant_changed", "aux")


def test_every_listed_declaration_carries_the_axioms_it_reaches(tmp_path: Path) -> None:
    # Lean: every replayed declaration gets `axiomsIn` (contract 1's `declarations` field); a
    # free compile still judges the axioms of theorems only
    e = honest()
    e.definition("pick", e.const("Nat"), e.app(e.const("sorryAx"), e.const("Nat")))
    e.opaque("cheat", e.const("Nat"), e.nat(0), unsafe=True)
    report = run(tmp_path, e, target=None)
    assert report.outcome.value == "ok", report.detail
    listed = {d.name: (d.kind, d.axioms, d.replayed) for d in report.declarations}
    assert listed == {
        "t1": ("theorem", ["propext"], True),
        "pick": ("definition", ["sorryAx"], True),
        "cheat": ("opaque", [], False),
    }
    assert report.disallowed_axioms == []


def test_an_identical_collision_walks_the_imported_constant(tmp_path: Path) -> None:
    # Lean: the axiom walk reads the kernel environment, which holds the imported constant; the
    # export's copy (another proof) is never replayed
    e = honest()
    nat = e.const("Nat")
    add = e.app(e.const("HAdd.hAdd", 0, 0, 0), nat, nat, nat, e.const("instHAdd"), e.bvar(0))
    e.theorem(
        "Nat.add_zero",
        e.forall("n", nat, e.app(e.const("Eq", 1), nat, e.app(add, e.nat(0)), e.bvar(0))),
        e.app(e.const("sorryAx"), e.sort(0)),
    )
    report = run(tmp_path, e)
    assert report.outcome.value == "ok", report.detail
    assert report.target_axioms == ["propext"] and report.disallowed_axioms == []


def test_answer_holes_are_checked_against_the_reference(tmp_path: Path) -> None:
    # Lean: every --answer-hole must be a definition of the reference (`bad_input`, before the
    # target is looked at), and is compared even where the statement does not mention it; its
    # reference value is not walked (contract 1, steps 3 and 7)
    ref = Exporter()
    ref.definition("junk", ref.const("Nat"), ref.nat(0))
    ref.definition("answer", ref.const("Nat"), ref.const("junk"))
    ref.theorem("t1", statement(ref), ref.const("sorryAx"))
    missing = Exporter()  # no t1 either: the hole is the reference's problem, found first
    missing.theorem("t2", statement(missing), proof(missing))
    for hole in ("nowhere", "t1"):  # absent; a theorem, not a definition
        report = run(tmp_path, missing, ref=ref, holes=(hole,))
        assert (report.outcome.value, report.declaration) == ("bad_input", hole)
        assert "answer hole" in report.detail
    unanswered = honest()
    report = run(tmp_path, unanswered, ref=ref, holes=("answer",))
    assert (report.outcome.value, report.declaration) == ("statement_constant_changed", "answer")
    answered = Exporter()  # no `junk`: only the reference's value of the hole used it
    answered.definition("answer", answered.const("Nat"), answered.nat(5))
    answered.theorem("t1", statement(answered), proof(answered))
    report = run(tmp_path, answered, ref=ref, holes=("answer",))
    assert report.outcome.value == "ok", report.detail
    assert report.answers == {"answer": "42"}


def test_records_replay_in_dependency_order_and_a_cycle_fails(tmp_path: Path) -> None:
    # Lean: `replayOrder` sends each record after those it mentions (Kahn's algorithm); a record
    # left over, on a cycle or using one, is replay_failed naming the first in export order
    nat = "Nat"  # the type of every definition here
    forward = honest()
    forward.definition("a", forward.const(nat), forward.const("b"))  # b is written later
    forward.definition("b", forward.const(nat), forward.nat(0))
    assert run(tmp_path, forward, target=None).outcome.value == "ok"
    both = honest()  # x and y both fail in the kernel; y goes first, x needs it
    both.definition("x", both.const(nat), both.app(both.const("y"), both.const("Nowhere.x")))
    both.definition("y", both.const(nat), both.const("Nowhere.y"))
    report = run(tmp_path, both, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "y")
    cycle = honest()
    cycle.definition("a", cycle.const(nat), cycle.const("b"))
    cycle.definition("b", cycle.const(nat), cycle.const("a"))
    report = run(tmp_path, cycle, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "a")
    assert "cycle" in report.detail
    user = honest()  # c only uses the cycle, and comes first
    user.definition("c", user.const(nat), user.const("a"))
    user.definition("a", user.const(nat), user.const("b"))
    user.definition("b", user.const(nat), user.const("a"))
    report = run(tmp_path, user, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "c")


def test_a_safe_declaration_using_its_own_name_fails_replay(tmp_path: Path) -> None:
    # Lean: a record's own constants are not its dependencies; the kernel checks a definition
    # before declaring it, so `def loop : Nat := loop` is an unknown constant there
    e = honest()
    e.definition("loop", e.const("Nat"), e.const("loop"))
    report = run(tmp_path, e, target=None)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "loop")
    assert "unknown constant 'loop'" in report.detail


def test_a_refused_inductive_record_is_named_by_its_first_type(tmp_path: Path) -> None:
    # Lean: an inductive record is one `inductDecl`; a refusal names the record's first constant
    e = Exporter()
    color_statement(e, green=e.forall("n", e.const("Nowhere.defined"), e.const("Color")))
    report = run(tmp_path, e)
    assert (report.outcome.value, report.declaration) == ("replay_failed", "Color")
    assert "unknown constant 'Nowhere.defined'" in report.detail
