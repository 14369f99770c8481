"""The verdict logic, from constructed checker reports: precedence, outcomes, axioms, sorry."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from proofgate.exceptions import (
    AuditError,
    ReplCrashed,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
)
from proofgate.lean.reply import ReplMessage, ReplPos, ReplReply
from proofgate.models import Category, Severity, Submission, VerdictStatus, Violation
from proofgate.verify.assemble import assemble
from proofgate.verify.contract import (
    CONTRACT_VERSION,
    AuditOutcome,
    AuditReport,
    CompileFailure,
    DeclarationAudit,
)
from proofgate.verify.policy import PolicyConfig, check_submission
from proofgate.verify.verdict import (
    DEFAULT_ALLOWED_AXIOMS,
    InfraFailure,
    audit_messages,
    build_verdict,
    decide_verdict,
    disallowed_axioms,
)

ALLOWED = DEFAULT_ALLOWED_AXIOMS
S = VerdictStatus


def report(
    outcome: AuditOutcome = AuditOutcome.ok,
    *,
    target: str | None = "t1",
    axioms: tuple[str, ...] = ("propext",),
    declarations: list[DeclarationAudit] | None = None,
    **extra: Any,
) -> AuditReport:
    if declarations is None:
        declarations = (
            [DeclarationAudit(name=target, kind="theorem", axioms=list(axioms), replayed=True)]
            if target
            else []
        )
    fields: dict[str, Any] = {
        "contract": CONTRACT_VERSION,
        "target_axioms": list(axioms) if target else [],
        "disallowed_axioms": [],
        "answers": {},
        **extra,
    }
    return AuditReport(
        checker="stand-in 0",
        lean="v4.32.0",
        outcome=outcome,
        target=target,
        declarations=declarations,
        **fields,
    )


def violation() -> Violation:
    return Violation(rule="eval", line=3, column=0, message="`#eval` runs code in the checker")


def error(text: str = "unknown identifier `foo`") -> ReplMessage:
    return ReplMessage(severity="error", pos=ReplPos(line=4, column=2), data=text)


def decide(**kwargs: Any) -> VerdictStatus:
    arguments: dict[str, Any] = {
        "kind": "check",
        "violations": [],
        "repl_messages": [],
        "audit": report(),
        "allowed_axioms": ALLOWED,
    }
    arguments.update(kwargs)
    status, reason = decide_verdict(**arguments)
    assert reason and "\n" not in reason
    return status


# --- precedence: every combination --------------------------------------------------------------

CHECK_ORDER = ["rejected", "failed", "statement_mismatch", "axiom_violation", "incomplete"]


def _inputs(conditions: set[str], kind: str) -> dict[str, Any]:
    axioms = ["propext"]
    if "axiom_violation" in conditions:
        axioms.append("cheat")
    if "incomplete" in conditions:
        axioms.append("sorryAx")
    if kind == "check":
        outcome = (
            AuditOutcome.type_mismatch if "statement_mismatch" in conditions else AuditOutcome.ok
        )
        audit = report(outcome, axioms=tuple(axioms))
    else:
        audit = report(
            target=None,
            declarations=[DeclarationAudit(name="a", kind="theorem", axioms=axioms, replayed=True)],
        )
    return {
        "kind": kind,
        "violations": [violation()] if "rejected" in conditions else [],
        "repl_messages": [error()] if "failed" in conditions else [],
        "audit": audit,
    }


@pytest.mark.parametrize(
    "conditions",
    [set(c) for n in range(len(CHECK_ORDER) + 1) for c in itertools.combinations(CHECK_ORDER, n)],
    ids=lambda c: "+".join(sorted(c)) or "none",
)
def test_check_precedence(conditions: set[str]) -> None:
    expected = next((S(name) for name in CHECK_ORDER if name in conditions), S.proved)
    assert decide(**_inputs(conditions, "check")) is expected


COMPILE_ORDER = ["rejected", "failed", "axiom_violation", "incomplete"]


@pytest.mark.parametrize(
    "conditions",
    [
        set(c)
        for n in range(len(COMPILE_ORDER) + 1)
        for c in itertools.combinations(COMPILE_ORDER, n)
    ],
    ids=lambda c: "+".join(sorted(c)) or "none",
)
def test_compile_precedence(conditions: set[str]) -> None:
    expected = next((S(name) for name in COMPILE_ORDER if name in conditions), S.compiled)
    assert decide(**_inputs(conditions, "compile")) is expected


@pytest.mark.parametrize("infra", ["timeout", "out_of_memory", "internal"])
@pytest.mark.parametrize(
    "conditions",
    [set(), {"rejected"}, {"failed"}, {"statement_mismatch"}, {"axiom_violation"}, {"incomplete"}],
)
def test_unfinished_runs_rank_below_rejected_and_failed_only(
    infra: str, conditions: set[str]
) -> None:
    inputs = _inputs(conditions, "check")
    status = decide(**inputs, infra_error=InfraFailure(infra, "worker"))  # type: ignore[arg-type]
    if conditions & {"rejected", "failed"}:
        assert status is S(next(iter(conditions & {"rejected", "failed"})))
    else:
        assert status is S(infra)  # never proved, never a proof failure


# --- audit outcomes ----------------------------------------------------------------------------


OUTCOMES = [
    (AuditOutcome.ok, S.proved),
    (AuditOutcome.target_missing, S.statement_mismatch),
    (AuditOutcome.not_a_theorem, S.statement_mismatch),
    (AuditOutcome.type_mismatch, S.statement_mismatch),
    (AuditOutcome.universe_mismatch, S.statement_mismatch),
    (AuditOutcome.statement_constant_changed, S.statement_mismatch),
    (AuditOutcome.target_not_replayed, S.statement_mismatch),
    (AuditOutcome.replay_failed, S.failed),
    (AuditOutcome.import_not_allowed, S.rejected),
    (AuditOutcome.bad_input, S.internal),
]


@pytest.mark.parametrize(("outcome", "expected"), OUTCOMES, ids=[o.value for o, _ in OUTCOMES])
def test_every_audit_outcome(outcome: AuditOutcome, expected: VerdictStatus) -> None:
    audit = report(outcome, declaration="t1.proof_1", detail="because")
    assert decide(audit=audit) is expected
    messages = audit_messages(audit, kind="check", allowed_axioms=ALLOWED)
    assert bool(messages) == (outcome is not AuditOutcome.ok)


def test_the_outcome_table_covers_the_contract() -> None:
    assert {outcome for outcome, _ in OUTCOMES} == set(AuditOutcome)


def test_statement_outcome_in_a_free_compile_is_internal() -> None:
    assert (
        decide(kind="compile", audit=report(AuditOutcome.type_mismatch, target=None)) is S.internal
    )


def test_missing_audit_is_never_proved() -> None:
    assert decide(audit=None) is S.internal
    assert decide(kind="compile", audit=None) is S.internal


def test_contract_or_target_disagreement_is_internal() -> None:
    assert decide(audit=report(contract=2)) is S.internal
    assert decide(audit=report(target="other"), target="t1") is S.internal
    assert decide(audit=report(), target="t1") is S.proved


def test_audit_compile_failure() -> None:
    failed = CompileFailure("does not compile", messages=["3:4: unknown identifier `x`"])
    assert decide(audit=failed) is S.failed
    assert decide(audit=CompileFailure("slow", timed_out=True)) is S.timeout
    assert decide(audit=CompileFailure("big", out_of_memory=True)) is S.out_of_memory


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ReplTimeout("ran past 60 s"), "timeout"),
        (ReplOutOfMemory("over 8 GiB"), "out_of_memory"),
        (ReplCrashed("killed"), "internal"),
        (ReplProtocolError("forged output"), "internal"),
        (AuditError("checker printed garbage"), "internal"),
        (ReplTimeout(""), "timeout"),  # no message: the detail names the exception
        (RuntimeError("boom"), "internal"),
    ],
)
def test_infra_failures_from_exceptions(exc: BaseException, kind: str) -> None:
    failure = InfraFailure.from_exception(exc)
    assert failure.kind == kind and failure.detail
    assert decide(infra_error=failure) is S(kind)


# --- axioms and sorry --------------------------------------------------------------------------


def test_axioms_within_the_allowlist_prove() -> None:
    assert decide(audit=report(axioms=("propext", "Classical.choice", "Quot.sound"))) is S.proved


def test_extra_allowed_axiom() -> None:
    audit = report(axioms=("propext", "MyProject.funext'"))
    assert decide(audit=audit) is S.axiom_violation
    assert decide(audit=audit, allowed_axioms=(*ALLOWED, "MyProject.funext'")) is S.proved


def test_an_axiom_the_submission_declares_is_never_allowed() -> None:
    declarations = [
        DeclarationAudit(name="cheat", kind="axiom", axioms=["cheat"], replayed=True),
        DeclarationAudit(name="t1", kind="theorem", axioms=["cheat"], replayed=True),
    ]
    audit = report(axioms=("cheat",), declarations=declarations)
    assert decide(audit=audit, allowed_axioms=(*ALLOWED, "cheat")) is S.axiom_violation


def test_native_decide_axioms_are_violations_not_incomplete() -> None:
    audit = report(axioms=("propext", "Lean.ofReduceBool", "t1._native.native_decide.ax_1_1"))
    assert decide(audit=audit) is S.axiom_violation
    assert disallowed_axioms(audit, ALLOWED, kind="check") == [
        "Lean.ofReduceBool",
        "t1._native.native_decide.ax_1_1",
    ]


def test_the_checkers_own_judgement_can_only_add() -> None:
    audit = report(axioms=("propext",), disallowed_axioms=["propext"])
    assert decide(audit=audit) is S.axiom_violation


def test_sorry_is_decided_from_axioms_never_from_warning_text() -> None:
    warning = ReplMessage(
        severity="warning", pos=ReplPos(line=1, column=8), data="declaration uses `sorry`"
    )
    assert decide(audit=report(axioms=("sorryAx",)), repl_messages=[]) is S.incomplete
    assert decide(audit=report(axioms=("propext",)), repl_messages=[warning]) is S.proved


def test_a_sorry_the_target_does_not_use_does_not_block_proved() -> None:
    declarations = [
        DeclarationAudit(name="unused", kind="theorem", axioms=["sorryAx"], replayed=True),
        DeclarationAudit(name="t1", kind="theorem", axioms=["propext"], replayed=True),
    ]
    audit = report(axioms=("propext",), declarations=declarations)
    assert decide(audit=audit, repl_sorries=1) is S.proved
    (message,) = audit_messages(audit, kind="check", allowed_axioms=ALLOWED)
    assert message.category is Category.sorry and message.severity is Severity.warning
    assert "unused" in message.text and "does not depend" in message.text


def test_target_not_replayed_by_declaration_flag() -> None:
    declarations = [DeclarationAudit(name="t1", kind="theorem", axioms=[], replayed=False)]
    assert decide(audit=report(declarations=declarations)) is S.statement_mismatch


def test_free_compile_every_theorem_counts() -> None:
    def compile_report(*declarations: DeclarationAudit) -> AuditReport:
        return report(target=None, declarations=list(declarations))

    fine = DeclarationAudit(name="a", kind="theorem", axioms=["propext"], replayed=True)
    assert decide(kind="compile", audit=compile_report(fine)) is S.compiled
    sorried = DeclarationAudit(name="b", kind="theorem", axioms=["sorryAx"], replayed=True)
    assert decide(kind="compile", audit=compile_report(fine, sorried)) is S.incomplete
    cheat = DeclarationAudit(name="c", kind="theorem", axioms=["cheat"], replayed=True)
    assert decide(kind="compile", audit=compile_report(fine, cheat, sorried)) is S.axiom_violation
    sorried_def = DeclarationAudit(name="d", kind="definition", axioms=["sorryAx"], replayed=True)
    assert decide(kind="compile", audit=compile_report(fine, sorried_def)) is S.compiled
    assert decide(kind="compile", audit=compile_report(fine), repl_sorries=1) is S.incomplete
    skipped = DeclarationAudit(name="e", kind="theorem", axioms=[], replayed=False)
    assert decide(kind="compile", audit=compile_report(fine, skipped)) is S.failed


def test_reasons_name_the_cause() -> None:
    status, reason = decide_verdict(
        kind="check", violations=[violation()], repl_messages=[], audit=None, allowed_axioms=ALLOWED
    )
    assert status is S.rejected and "[eval]" in reason and "line 3" in reason
    status, reason = decide_verdict(
        kind="check",
        violations=[],
        repl_messages=[error()] * 2,
        audit=report(),
        allowed_axioms=ALLOWED,
    )
    assert status is S.failed and "2 errors" in reason and "unknown identifier" in reason
    status, reason = decide_verdict(
        kind="check",
        violations=[],
        repl_messages=[],
        audit=report(axioms=("cheat",)),
        allowed_axioms=ALLOWED,
    )
    assert "cheat" in reason
    status, reason = decide_verdict(
        kind="check",
        violations=[],
        repl_messages=[],
        audit=None,
        allowed_axioms=ALLOWED,
        infra_error=InfraFailure("internal", "x"),
    )
    assert "not the proof's" in reason


# --- the whole verdict -------------------------------------------------------------------------

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def test_build_verdict_places_messages_in_the_proof() -> None:
    submission = Submission(statement=STATEMENT, proof="by\n  linarith")
    assembled = assemble(submission)
    reply = ReplReply.parse(
        {
            "messages": [
                {
                    "severity": "error",
                    "pos": {"line": 4, "column": 2},
                    "endPos": {"line": 4, "column": 10},
                    "data": "linarith failed to find a contradiction\na b : ℕ\n⊢ False",
                }
            ]
        }
    )
    verdict = build_verdict(
        assembled=assembled,
        policy=check_submission(assembled),
        allowed_axioms=ALLOWED,
        repl_reply=reply,
        audit=None,
        content_hash=submission.content_hash(),
    )
    assert verdict.status is S.failed and verdict.kind == "check" and verdict.target == "t1"
    (message,) = verdict.messages
    assert message.category is Category.tactic_failed and message.source == "proof"
    assert (message.pos.line, message.pos.column) == (2, 2)  # type: ignore[union-attr]
    assert message.goals == ["a b : ℕ\n⊢ False"]
    assert "^^^^^^^^ error[tactic_failed]" in verdict.feedback
    assert verdict.content_hash == submission.content_hash()


def test_build_verdict_proved_with_axioms_answers_and_sorry_report() -> None:
    assembled = assemble(Submission(statement=STATEMENT, proof="by omega"))
    declarations = [
        DeclarationAudit(name="t1", kind="theorem", axioms=["propext"], replayed=True),
        DeclarationAudit(name="spare", kind="theorem", axioms=["sorryAx"], replayed=True),
    ]
    audit = report(axioms=("propext",), declarations=declarations)
    verdict = build_verdict(
        assembled=assembled,
        policy=check_submission(assembled),
        allowed_axioms=ALLOWED,
        repl_reply=ReplReply(),
        audit=audit,
    )
    assert verdict.status is S.proved and verdict.ok and verdict.axioms == ["propext"]
    assert [m.category for m in verdict.messages] == [Category.sorry]


def test_build_verdict_policy_refusal_and_infra() -> None:
    assembled = assemble(Submission(code="#eval 1\n"))
    verdict = build_verdict(
        assembled=assembled, policy=check_submission(assembled), allowed_axioms=ALLOWED
    )
    assert verdict.status is S.rejected and verdict.violations[0].rule == "eval"
    assert verdict.messages[0].category is Category.policy and "[eval]" in verdict.feedback
    clean = assemble(Submission(code="theorem x : True := trivial\n"))
    verdict = build_verdict(
        assembled=clean,
        policy=check_submission(clean),
        allowed_axioms=ALLOWED,
        infra_error=InfraFailure("timeout", "60 s"),
    )
    assert verdict.status is S.timeout and verdict.messages[-1].category is Category.timeout
    assert not verdict.status.is_deterministic


def test_build_verdict_maps_the_audit_compile_errors() -> None:
    assembled = assemble(Submission(statement=STATEMENT, proof="by\n  exact foo"))
    failure = CompileFailure("no", messages=["4:8: unknown identifier 'foo'", "garbage line"])
    verdict = build_verdict(
        assembled=assembled,
        policy=check_submission(assembled),
        allowed_axioms=ALLOWED,
        audit=failure,
    )
    assert verdict.status is S.failed
    first, second = verdict.messages
    assert first.category is Category.unknown_identifier and first.source == "proof"
    assert (first.pos.line, first.pos.column) == (2, 8)  # type: ignore[union-attr]
    assert second.pos is None


def test_an_audit_compile_error_without_a_position_still_shows_its_goals() -> None:
    """Every compile error is read as a Lean message (category and goals) whether or not it
    carries a `line:column:`; an unplaced one once lost its goals."""
    assembled = assemble(Submission(statement=STATEMENT, proof="by\n  skip"))
    failure = CompileFailure(
        "no", messages=["4:8: unsolved goals\n⊢ 1 = 2", "unsolved goals\n⊢ 3 = 4"]
    )
    verdict = build_verdict(
        assembled=assembled,
        policy=check_submission(assembled),
        allowed_axioms=ALLOWED,
        audit=failure,
    )
    placed, unplaced = verdict.messages
    assert placed.goals == ["⊢ 1 = 2"] and placed.pos is not None
    assert unplaced.goals == ["⊢ 3 = 4"] and unplaced.pos is None
    assert unplaced.category is Category.unsolved_goals


def test_a_free_compiles_missing_target_is_failed_whatever_lean_says() -> None:
    """Decided by proofgate's reading of the code (issue 30, defect 1): no verdict status of its
    own, category `target_missing`, and the verdict names the target asked for."""
    assembled = assemble(Submission(code="theorem x : True := trivial\n", target="y"))
    for audit in (None, report(target=None, declarations=[])):
        verdict = build_verdict(
            assembled=assembled,
            policy=check_submission(assembled),
            allowed_axioms=ALLOWED,
            audit=audit,
        )
        assert verdict.status is S.failed and verdict.target == "y"
        assert [m.category for m in verdict.messages] == [Category.target_missing]
        assert "no public theorem named y (its theorems: x)" in verdict.reason
        assert "error[target_missing]" in verdict.feedback


def test_a_free_compiles_target_must_be_among_the_audits_theorems() -> None:
    assembled = assemble(Submission(code="theorem x : True := trivial\n", target="x"))
    present = [DeclarationAudit(name="x", kind="theorem", axioms=["propext"], replayed=True)]
    absent = [DeclarationAudit(name="z", kind="theorem", axioms=["propext"], replayed=True)]
    statuses = []
    for declarations in (present, absent):
        verdict = build_verdict(
            assembled=assembled,
            policy=check_submission(assembled),
            allowed_axioms=ALLOWED,
            audit=report(target=None, declarations=declarations),
        )
        statuses.append((verdict.status, verdict.target))
    assert statuses == [(S.compiled, "x"), (S.failed, "x")]


def test_a_policy_refusal_outranks_a_missing_target() -> None:
    assembled = assemble(Submission(code="#eval 1\n", target="y"))
    verdict = build_verdict(
        assembled=assembled, policy=check_submission(assembled), allowed_axioms=ALLOWED
    )
    assert verdict.status is S.rejected


def test_a_disallowed_axiom_points_to_the_line_that_declares_it() -> None:
    """issue 30, defect 9: the feedback shows where the submission declares the axiom."""
    code = (
        "namespace Foo\n\n/-- axiom fake : False -/\naxiom cheat : False\n\nend Foo\n\n"
        "theorem t1 : False := Foo.cheat\n"
    )
    assembled = assemble(Submission(code=code, target="t1"))
    declarations = [
        DeclarationAudit(name="Foo.cheat", kind="axiom", axioms=["Foo.cheat"], replayed=True),
        DeclarationAudit(name="t1", kind="theorem", axioms=["Foo.cheat"], replayed=True),
    ]
    audit = report(axioms=("Foo.cheat",), declarations=declarations)
    verdict = build_verdict(
        assembled=assembled,
        policy=check_submission(assembled, PolicyConfig(profile="permissive")),
        allowed_axioms=ALLOWED,
        repl_reply=ReplReply(),
        audit=audit,
    )
    assert verdict.status is S.axiom_violation
    [message] = [m for m in verdict.messages if m.category is Category.axiom]
    assert message.source == "code" and message.pos is not None and message.end_pos is not None
    assert (message.pos.line, message.pos.column, message.end_pos.column) == (4, 6, 11)
    assert "depends on axiom `Foo.cheat`, declared here," in message.text
    assert "4 | axiom cheat : False" in verdict.feedback


def test_an_axiom_from_elsewhere_has_no_position() -> None:
    audit = report(axioms=("propext", "Lean.ofReduceBool"))
    sources = {"code": "theorem t1 : True := by native_decide\n"}
    [message] = audit_messages(audit, kind="check", allowed_axioms=ALLOWED, sources=sources)
    assert message.category is Category.axiom and message.pos is None and message.source is None
