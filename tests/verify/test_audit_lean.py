"""The trusted audit end to end with real Lean, Mathlib and the built `proofgate-checker`.

Skipped where no toolchain is installed; the real-Lean workflow runs it after `lake build
proofgate-checker`. Every adversarial case (the project's own in tests/data/adversarial.jsonl and
the shared ones) goes through the audit alone, without the policy layer: a `reject` case must never
pass it where the audit is the layer meant to stop it (and, for a locked statement, never pass it
at all), and an `accept` case must pass it. A checker that fails to conclude fails the test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT, Settings
from proofgate.environments.registry import get_environment
from proofgate.exceptions import AuditError
from proofgate.verify.audit import CHECKER_BINARY, Auditor, AuditRequest
from proofgate.verify.contract import AuditOutcome, AuditReport, CompileFailure
from proofgate.verify.verdict import decide_verdict
from tests.conftest import ADVERSARIAL_CASES

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

PROJECT_CASES = SOURCE_ROOT / "tests" / "data" / "adversarial.jsonl"
ALLOWED = ("propext", "Classical.choice", "Quot.sound")
_THEOREM = re.compile(r"^\s*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+(\S+)", re.MULTILINE)


def _load(path: Path, source: str) -> list[Any]:
    if not path.is_file():
        return []
    cases = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [pytest.param(source, case, id=f"{source}:{case['id']}") for case in cases]


CASES = _load(PROJECT_CASES, "project") + _load(ADVERSARIAL_CASES, "shared")
#: The classes comparator and SafeVerify fixed in 2026, each with the verdict it must get from the
#: audit alone (`verdict`, the requirement) and what a real run gave (`recorded`: "unrecorded"
#: until the real-Lean workflow has run it; then pin it there).
VERDICT_CASES = _load(SOURCE_ROOT / "tests" / "data" / "adversarial_lean.jsonl", "lean")


def _target(case: dict[str, Any]) -> str | None:
    """The case's target: given, else the statement's last theorem (as the service defaults)."""
    if case.get("statement") is None:
        return None
    if case.get("target"):
        return str(case["target"])
    names = _THEOREM.findall(case["statement"])
    assert names, f"{case['id']}: no theorem in the statement"
    return str(names[-1])


def _passes(report: AuditReport, *, locked: bool) -> bool:
    """What `proved` (locked) or `compiled` (free) needs from the audit."""
    clean = report.outcome is AuditOutcome.ok and not report.disallowed_axioms
    if locked:
        return clean and set(report.target_axioms) <= set(ALLOWED)
    return clean


@pytest.fixture(scope="module")
def auditor(tmp_path_factory: pytest.TempPathFactory) -> Auditor:
    """One auditor (and one reference cache) for every case; the settings' defaults otherwise."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("audit-data"))
    checker = settings.project_dir / CHECKER_BINARY
    if not checker.is_file():
        pytest.fail(
            f"{checker} is missing: run `lake build proofgate-checker` in {settings.project_dir}"
        )
    return Auditor(settings)


@pytest.mark.skipif(not CASES, reason="no adversarial cases found (tests/data or shared/)")
@pytest.mark.parametrize(("source", "case"), CASES)
async def test_adversarial_case_through_the_audit(
    source: str, case: dict[str, Any], auditor: Auditor, request: pytest.FixtureRequest
) -> None:
    if source == "shared":
        request.getfixturevalue("shared_dir")  # skips with its reason when shared/ is absent
    locked = case.get("statement") is not None
    if case["expect"] == "reject" and case.get("stage") != "audit" and not locked:
        pytest.skip(f"{case['id']}: a free compile only {case.get('stage')} is meant to stop")
    environment = get_environment(auditor.settings, case.get("environment", "default"))
    try:
        report = await auditor.audit(
            AuditRequest(
                environment=environment,
                statement=case.get("statement"),
                code=case["code"],
                target=_target(case),
                answer_holes=tuple(case.get("answer_holes", ())),
                allowed_axioms=ALLOWED,
            )
        )
    except AuditError as exc:
        pytest.fail(f"{case['id']}: the checker did not conclude: {exc}")
    if isinstance(report, CompileFailure):
        assert case["expect"] == "reject", f"{case['id']} did not compile: {report.messages}"
        return
    passed = _passes(report, locked=locked)
    if case["expect"] == "accept":
        assert passed, f"{case['id']} ({case['why']}) was refused: {report.model_dump_json()}"
    else:
        assert not passed, (
            f"{case['id']} ({case['why']}) passed the audit: {report.model_dump_json()}"
        )


HOLE_STATEMENT = (
    "import Mathlib\n\nabbrev answer : ℕ := sorry\n\ntheorem t : answer + 1 = 3 := by sorry\n"
)


async def test_an_answer_hole_is_filled_and_reported(auditor: Auditor) -> None:
    environment = get_environment(auditor.settings, "default")
    code = "import Mathlib\n\nabbrev answer : ℕ := 2\n\ntheorem t : answer + 1 = 3 := by decide\n"
    report = await auditor.audit(
        AuditRequest(
            environment=environment,
            statement=HOLE_STATEMENT,
            code=code,
            target="t",
            answer_holes=("answer",),
            allowed_axioms=ALLOWED,
        )
    )
    assert _passes(report, locked=True), report.model_dump_json()
    assert "2" in report.answers["answer"]


async def test_an_answer_hole_of_another_type_is_a_changed_statement(auditor: Auditor) -> None:
    environment = get_environment(auditor.settings, "default")
    code = "import Mathlib\n\nabbrev answer : ℤ := 2\n\ntheorem t : answer + 1 = 3 := by decide\n"
    try:
        report = await auditor.audit(
            AuditRequest(
                environment=environment,
                statement=HOLE_STATEMENT,
                code=code,
                target="t",
                answer_holes=("answer",),
                allowed_axioms=ALLOWED,
            )
        )
    except AuditError as exc:
        pytest.fail(f"the checker did not conclude: {exc}")
    if isinstance(report, CompileFailure):
        return  # also acceptable: Lean may refuse the changed statement outright
    assert not _passes(report, locked=True)
    assert report.outcome in (AuditOutcome.type_mismatch, AuditOutcome.statement_constant_changed)


@pytest.mark.skipif(not VERDICT_CASES, reason="tests/data/adversarial_lean.jsonl is missing")
@pytest.mark.parametrize(("source", "case"), VERDICT_CASES)
async def test_each_2026_exploit_class_gets_its_verdict(
    source: str, case: dict[str, Any], auditor: Auditor
) -> None:
    """Issue 20: a structure reached by projection only (defect 3), a tampered .olean and
    non-canonical Nat literals (defect 2), quotient/`Char`/primitive redefinitions and `prelude`
    files, an axiom behind an `opaque`, theorem and definition holes, a numeric namespace, and
    disproofs, judged as the verdict logic judges the audit's report (no policy layer)."""
    environment = get_environment(auditor.settings, "default")
    target = _target(case)
    request = AuditRequest(
        environment=environment,
        statement=case["statement"],
        code=case["code"],
        target=target,
        answer_holes=tuple(case.get("answer_holes", ())),
        allowed_axioms=ALLOWED,
    )
    try:
        report = await auditor.audit(request)
    except AuditError as exc:
        pytest.fail(f"{case['id']}: the checker did not conclude: {exc}")
    status, reason = decide_verdict(
        kind="check",
        violations=[],
        repl_messages=[],
        audit=report,
        allowed_axioms=ALLOWED,
        target=target,
    )
    assert status.value == case["verdict"], f"{case['id']} ({case['why']}): {status}: {reason}"


async def test_a_locked_check_walks_and_lists_the_targets_closure_only(auditor: Auditor) -> None:
    """Defect 4: the axiom walk starts at the target; a lemma it never uses is not listed."""
    environment = get_environment(auditor.settings, "default")
    statement = "import Mathlib\n\ntheorem t (a b : ℕ) : a + b = b + a := by sorry\n"
    code = (
        "import Mathlib\n\nlemma helper (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n\n"
        "theorem unused : ∀ x : ℝ, x = x := fun _ => rfl\n\n"
        "theorem t (a b : ℕ) : a + b = b + a := helper a b\n"
    )
    report = await auditor.audit(
        AuditRequest(
            environment=environment,
            statement=statement,
            code=code,
            target="t",
            allowed_axioms=ALLOWED,
        )
    )
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.ok
    assert {d.name for d in report.declarations} == {"t", "helper"}
    assert set(report.target_axioms) <= set(ALLOWED)
