"""Probe construction: fresh names in the target's scope, the target's own signature, the negation
of its closed type, the probe's own lines, what is skipped, and the sorry'd dependencies."""

from __future__ import annotations

import pytest

from proofgate.models import ProbeKind
from proofgate.verify.assemble import parse_statement
from proofgate.verify.policy import check_source
from proofgate.verify.probes import (
    build_probes,
    lean_name,
    read_target,
    sorried_dependencies,
)

VACUOUS = "import Mathlib\n\ntheorem f (n : ℕ) (h : n < 0) : n = 5 := by sorry\n"
FALSE = "import Mathlib\n\ntheorem g : (2 : ℕ) + 2 = 5 := by sorry\n"


def _probes(text: str, closers: list[str] | None = None, heartbeats: int = 100_000):  # type: ignore[no-untyped-def]
    return build_probes(
        parse_statement(text), closers or ["decide", "omega"], heartbeats=heartbeats
    )


def _own_lines(probe) -> str:  # type: ignore[no-untyped-def]
    lines = probe.source.split("\n")
    return "\n".join(lines[probe.first_line - 1 : probe.last_line])


def test_run_order_is_per_closer_then_push_neg() -> None:
    probes = _probes(VACUOUS)
    assert [(p.kind, p.tactic) for p in probes] == [
        (ProbeKind.trivially_provable, "decide"),
        (ProbeKind.disproved, "decide"),
        (ProbeKind.vacuous, "intros; exfalso; decide"),
        (ProbeKind.trivially_provable, "omega"),
        (ProbeKind.disproved, "omega"),
        (ProbeKind.vacuous, "intros; exfalso; omega"),
        (ProbeKind.disproved, "push_neg; decide"),
        (ProbeKind.disproved, "push_neg; omega"),
    ]
    assert [p.order for p in probes] == list(range(8))
    assert len({p.name for p in probes}) == 8


def test_trivial_probe_is_the_target_itself_renamed_and_proved() -> None:
    probe = _probes(VACUOUS)[0]
    assert probe.source == (  # no sorry'd copy of the target is left for a closer to use
        "import Mathlib\n\n"
        "set_option maxHeartbeats 100000 in\n"
        "theorem proofgate_triage_trivial_0 (n : ℕ) (h : n < 0) : n = 5 := by\n"
        "  decide\n"
    )
    assert (probe.first_line, probe.last_line) == (3, 5)
    assert probe.name == "proofgate_triage_trivial_0" and probe.negation_statement is None


def test_doc_comments_attributes_and_indentation_stay_with_the_target() -> None:
    text = (
        "import Mathlib\n\nnamespace N\n  /-- the doc -/\n  @[simp] theorem t (n : ℕ) :\n"
        "      n = n := sorry\nend N\n"
    )
    probe = _probes(text)[0]
    assert _own_lines(probe).split("\n") == [
        "  set_option maxHeartbeats 100000 in",
        "  /-- the doc -/",
        "  @[simp] theorem proofgate_triage_trivial_0 (n : ℕ) :",
        "      n = n := by",
        "    decide",
    ]
    assert (
        probe.source.endswith("    decide\nend N\n")
        and probe.name == "N.proofgate_triage_trivial_0"
    )


def test_disproof_negates_the_closed_type_of_the_target() -> None:
    probe = _probes(VACUOUS)[1]
    assert _own_lines(probe).split("\n")[1] == (
        "theorem proofgate_triage_disproof_1 : ¬ (type_of% @_root_.f) := by"
    )
    assert probe.negation_statement is not None
    assert probe.negation_statement == probe.source.replace("  decide\n", "  sorry\n", 1)
    push = _probes(VACUOUS)[6]
    assert _own_lines(push).endswith(":= by\n  push_neg\n  decide")


def test_vacuous_probe_introduces_then_proves_false_with_hypothesis_forms() -> None:
    probes = _probes(VACUOUS, ["simp", "decide", "omega"])
    vacuous = {p.closer: p for p in probes if p.kind is ProbeKind.vacuous}
    assert vacuous["simp"].tactic == "intros; exfalso; simp_all"
    assert (
        vacuous["omega"].tactic == "intros; exfalso; omega" and vacuous["omega"].skip_reason is None
    )
    assert vacuous["decide"].skip_reason == "`decide` cannot prove False from hypotheses"
    assert "theorem proofgate_triage_vacuous_" in _own_lines(vacuous["omega"])
    assert "(n : ℕ) (h : n < 0) : n = 5 := by" in _own_lines(vacuous["omega"])


def test_no_hypotheses_no_vacuous_probe_but_variables_count() -> None:
    probes = _probes(FALSE)
    assert all(
        p.skip_reason == "the statement has no hypotheses"
        for p in probes
        if p.kind is ProbeKind.vacuous
    )
    premises = "import Mathlib\n\ntheorem g : ∀ n : ℕ, n < 0 → n = 5 := by sorry\n"
    assert read_target(parse_statement(premises)).has_hypotheses
    variables = "import Mathlib\n\nvariable (n : ℕ) (h : n < 0)\ninclude h\n\ntheorem g : n = 5 := by sorry\n"
    assert read_target(parse_statement(variables)).has_hypotheses


def test_namespaces_dotted_names_universes_and_root() -> None:
    text = (
        "import Mathlib\n\nnamespace Foo\nopen Real in\n@[simp] protected theorem Nat.f.{u} "
        "(α : Sort u) (n : ℕ) : n = n := by sorry -- trailing\nend Foo\n"
    )
    probes = _probes(text)
    trivial, disproof = probes[0], probes[1]
    assert trivial.name == "Foo.Nat.proofgate_triage_trivial_0"
    assert _own_lines(trivial).split("\n") == [
        "set_option maxHeartbeats 100000 in",
        "open Real in",
        (
            "@[simp] protected theorem Nat.proofgate_triage_trivial_0.{u} (α : Sort u) (n : ℕ) : "
            "n = n := by"
        ),
        "  decide -- trailing",
    ]
    assert _own_lines(disproof).split("\n")[:2] == [
        "open Real in",
        "set_option maxHeartbeats 100000 in",
    ]
    assert "¬ (type_of% @_root_.Foo.Nat.f)" in _own_lines(disproof)
    assert disproof.source.endswith(" -- trailing\nend Foo\n")  # the probe stays inside Foo
    assert "theorem Nat.f.{u}" in disproof.source and "theorem Nat.f" not in trivial.source
    rooted = "namespace A\ntheorem _root_.top (n : ℕ) : n = n := by sorry\nend A\n"
    probe = _probes(rooted)[0]
    assert probe.name == "proofgate_triage_trivial_0"
    assert "theorem _root_.proofgate_triage_trivial_0 (n : ℕ)" in probe.source


def test_names_that_need_guillemets() -> None:
    assert lean_name(["_root_", "Foo", "my thm"]) == "_root_.Foo.«my thm»"
    assert lean_name(["end", "x'"]) == "«end».x'"
    text = "theorem «my thm» (n : ℕ) : n = n := by sorry\n"
    assert "@_root_.«my thm»" in _probes(text)[1].source


def test_every_reserved_word_is_quoted_in_a_name() -> None:
    assert lean_name(["local", "meta", "set_option", "notation3", "x"]) == (
        "«local».«meta».«set_option».«notation3».x"
    )
    assert lean_name(["Nat", "add_comm"]) == "Nat.add_comm"


def test_module_system_modifiers_stay_with_the_target() -> None:
    text = "module\npublic import Mathlib\n\npublic meta theorem t (n : ℕ) : n = n := sorry\n"
    probe = _probes(text)[0]
    assert _own_lines(probe).split("\n") == [
        "set_option maxHeartbeats 100000 in",
        "public meta theorem proofgate_triage_trivial_0 (n : ℕ) : n = n := by",
        "  decide",
    ]
    assert read_target(parse_statement(text)).has_mathlib


def test_push_neg_needs_mathlib_and_notation_blocks_disproof() -> None:
    core = "theorem g : (2 : Nat) + 2 = 5 := by sorry\n"
    push = [p for p in _probes(core) if p.tactic.startswith("push_neg")]
    assert push and all(p.skip_reason == "`push_neg` needs Mathlib" for p in push)
    notation = (
        'import Mathlib\n\nnotation "⟪" x "⟫" => x + 1\ntheorem g : ⟪(2 : ℕ)⟫ = 3 := by sorry\n'
    )
    disproofs = [p for p in _probes(notation) if p.kind is ProbeKind.disproved]
    assert disproofs and all(
        "declares notation (`notation`)" in (p.skip_reason or "") for p in disproofs
    )
    trivial = [p for p in _probes(notation) if p.kind is ProbeKind.trivially_provable]
    assert all(p.skip_reason is None for p in trivial)


def test_heartbeats_zero_leaves_lean_default_and_probes_pass_the_policy() -> None:
    for probe in _probes(VACUOUS, heartbeats=0):
        assert "maxHeartbeats" not in probe.source
    for probe in _probes(VACUOUS, ["decide", "norm_num", "simp", "omega", "linarith", "aesop"]):
        assert check_source(probe.source).ok, probe.tactic


@pytest.mark.parametrize("comment", ["-- note", "/- note -/"])
def test_comment_before_assign_stays_a_comment(comment: str) -> None:
    text = f"theorem t (n : ℕ) : n = n {comment}\n  := by sorry\n"
    probe = _probes(text)[0]
    assert f"theorem proofgate_triage_trivial_0 (n : ℕ) : n = n {comment}\n  := by" in probe.source


def test_sorried_dependencies_are_transitive_and_holes_direct() -> None:
    text = (
        "import Mathlib\n\nabbrev ans : ℕ := sorry\ndef helper (n : ℕ) : ℕ := ans + n\n"
        "def unused : ℕ := sorry\nabbrev direct : ℕ := by sorry\n"
        "theorem t : helper 2 = direct := by sorry\n"
    )
    statement = parse_statement(text)
    assert statement.holes == ("direct",)
    assert sorried_dependencies(statement) == ["ans", "direct"]
    assert sorried_dependencies(parse_statement(FALSE)) == []
