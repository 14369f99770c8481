"""The audit's warm path (`audit_checker=warm`) through the whole service, on stand-ins: the
stand-in compiler, the stand-in exporter (tests/standins/olean_exporter.py) and the warm stand-in
checker (tests/standins/export_checker.py, serve mode) behind the real auditor and pool.

Each way a check can end is a verdict that cannot be `proved` by accident: the exporter's refusal,
a malformed export, a redeclared import, a kernel refusal, a checker that hangs or crashes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.models import Category, Submission, Verdict, VerdictStatus
from proofgate.verify.audit import Auditor
from proofgate.verify.warm_audit import REFERENCE_EXPORT
from tests.support.stack import STANDINS, Stack, make_stack, running_service
from tests.support.waiting import until_async

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
PROOF = "by exact Nat.add_comm a b"


def warm_stack(tmp_path: Path, **overrides: Any) -> Stack:
    options: dict[str, Any] = {
        "audit_checker": "warm",
        "checkers": 1,
        "cache_enabled": False,
        "audit_check_timeout": 5.0,
    }
    options.update(overrides)
    return make_stack(tmp_path, **options)


def submission(proof: str = PROOF, statement: str = STATEMENT) -> Submission:
    return Submission(statement=statement, proof=proof, target="t1")


def code_submission(code: str) -> Submission:
    return Submission(statement=STATEMENT, code=code, target="t1")


def warm_pool(service: Any) -> Any:
    auditor = service._auditor
    assert isinstance(auditor, Auditor)
    pool = auditor._warm.pool(service._environments["default"])
    assert pool is not None, "the warm checkers never ran: the check took another path"
    return pool


async def test_an_honest_proof_is_proved_by_a_warm_checker_that_imported_once(
    tmp_path: Path,
) -> None:
    stack = warm_stack(tmp_path)
    async with running_service(stack) as service:
        first = await service.check(submission())
        second = await service.check(submission("by rw [Nat.add_comm]"))
        pool = warm_pool(service)
        assert first.status is VerdictStatus.proved, first.reason
        assert second.status is VerdictStatus.proved, second.reason
        assert pool.stats.started == 1  # two checks, one import
    references = list((stack.settings.data_dir / "references").iterdir())
    assert len(references) == 1 and (references[0] / REFERENCE_EXPORT).is_file()
    assert not any((stack.settings.data_dir / "audit").iterdir()), "scratch left behind"


async def test_a_different_statement_is_a_statement_mismatch(tmp_path: Path) -> None:
    code = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = a + b := rfl\n"
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.statement_mismatch, verdict.reason
    assert "type differs" in verdict.reason


@pytest.mark.parametrize(
    ("directive", "words", "category"),
    [
        # a rewritten .olean holding an Int passed off as a Nat: the export's parser refuses it
        ("tamper-literal -4294967296", "export is malformed", Category.kernel),
        # the kernel refuses a declaration: replay fails there
        ("kernel-refuses declaration has metavariables", "kernel refused", Category.kernel),
    ],
)
async def test_what_the_export_shows_is_judged_not_what_the_olean_claims(
    tmp_path: Path, directive: str, words: str, category: Category
) -> None:
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
        f"-- standin-compiler: {directive}\n"
    )
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.failed, verdict.reason
    assert words in verdict.reason
    assert any(m.category is category for m in verdict.messages), verdict.messages


async def test_a_lying_statement_hash_changes_nothing(tmp_path: Path) -> None:
    # the .olean's cached hash claims the locked statement; the export is built from the terms
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = a + b := rfl\n"
        "-- standin-compiler: tamper-statement (a b : ℕ) : a + b = b + a\n"
    )
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.statement_mismatch, verdict.reason


async def test_redeclaring_an_imported_constant_is_failed(tmp_path: Path) -> None:
    code = (
        "import Mathlib\n\naxiom propext : True\n\n"
        "theorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    )
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.failed, verdict.reason
    assert "redeclares an imported constant" in verdict.reason and "propext" in verdict.reason


async def test_a_disallowed_axiom_is_found_through_the_export(tmp_path: Path) -> None:
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
        "-- standin-axioms: propext Lean.ofReduceBool\n"
    )
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.axiom_violation, verdict.reason
    assert "Lean.ofReduceBool" in verdict.reason


async def test_a_hung_checker_is_a_timeout_and_the_next_check_gets_a_fresh_one(
    tmp_path: Path,
) -> None:
    hang = (
        "import Mathlib\n\ntheorem «checker-hang» : True := trivial\n\n"
        "theorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    )
    async with running_service(warm_stack(tmp_path, audit_check_timeout=1.0)) as service:
        hung = await service.check(code_submission(hang))
        after = await service.check(submission())
        pool = warm_pool(service)
        assert hung.status is VerdictStatus.timeout, hung.reason
        assert after.status is VerdictStatus.proved, after.reason
        assert pool.stats.replaced == 1 and pool.stats.started == 2


async def test_a_checker_that_crashes_twice_is_internal_never_proved(tmp_path: Path) -> None:
    crash = (
        "import Mathlib\n\ntheorem «checker-crash» : True := trivial\n\n"
        "theorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    )
    async with running_service(warm_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(crash))
        pool = warm_pool(service)
        assert verdict.status is VerdictStatus.internal, verdict.reason
        assert "crashed" in verdict.reason and "twice" in verdict.reason
        assert pool.stats.replaced == 2  # retried once on a fresh checker


REFUSING_EXPORTER = """
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1]
if os.path.basename(out) in REFUSE:
    print("a warning the compile printed")  # the refusal is the last line of stdout
    print(json.dumps({"error": "free_variable", "detail": "t1 holds a free variable"}))
    raise SystemExit(1)
os.execv(sys.executable, [sys.executable, EXPORTER, SCENARIO, *sys.argv[1:]])
"""


@pytest.mark.parametrize(
    ("refused", "status", "words"),
    [
        # the submission's export refused: its own failure, no checker asked
        ("ProofgateSubmission.ndjson", VerdictStatus.failed, "the submission could not be"),
        # the locked statement's: the service's fault, never the proof's
        (REFERENCE_EXPORT, VerdictStatus.internal, "the locked statement could not be"),
    ],
)
async def test_an_exporter_refusal_is_judged_by_whose_module_it_refused(
    tmp_path: Path, refused: str, status: VerdictStatus, words: str
) -> None:
    stack = warm_stack(tmp_path)
    refusing = tmp_path / "refusing_exporter.py"
    refusing.write_text(
        f"REFUSE = {[refused]!r}\nEXPORTER = {str(STANDINS / 'olean_exporter.py')!r}\n"
        f"SCENARIO = {str(stack.scenario_file)!r}\n" + REFUSING_EXPORTER
    )
    stack.settings.export_command = f"{sys.executable} {refusing}"
    async with running_service(stack) as service:
        verdict: Verdict = await service.check(submission())
    assert verdict.status is status, verdict.reason
    assert words in verdict.reason and "free_variable: t1 holds a free variable" in verdict.reason


@pytest.mark.parametrize("checker", ["oneshot", "warm"])
async def test_a_worker_that_forges_success_never_makes_a_wrong_proof_proved(
    tmp_path: Path, checker: str
) -> None:
    # Requirement 1: the audit compiles the submitted text in a fresh process. A submission that
    # took its REPL worker over (every later reply clean, whatever the code) gains nothing.
    wrong = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by simp_all\n"
        "-- standin: error the REPL says simp_all failed\n"
        "-- standin-compiler: error the fresh compile says simp_all failed\n"
    )
    stack = warm_stack(tmp_path, audit_checker=checker)
    async with running_service(stack) as service:
        attack = Submission(code="import Mathlib\n-- standin: taken-over-clean\n")
        await service.check(attack, tenant="attacker")
        verdict = await service.check(code_submission(wrong), tenant="attacker")
    assert verdict.status is VerdictStatus.failed, verdict.reason
    texts = " ".join(m.text for m in verdict.messages)
    assert "the REPL says" not in texts  # the take-over hid the REPL's error...
    assert "the fresh compile says simp_all failed" in verdict.reason  # ...the audit did not


async def test_the_warm_checkers_start_with_the_service(tmp_path: Path) -> None:
    # as the REPL pool warms its workers: the first check finds its checker imported
    stack = warm_stack(tmp_path, checkers=2)
    async with running_service(stack) as service:
        auditor = service._auditor
        assert isinstance(auditor, Auditor)
        environment = service._environments["default"]
        assert await until_async(
            lambda: (
                (pool := auditor._warm.pool(environment)) is not None and pool.stats.started == 2
            )
        )
        verdict = await service.check(submission())
        assert verdict.status is VerdictStatus.proved, verdict.reason
        assert warm_pool(service).stats.started == 2  # no start on the check's path


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (["import Mathlib"], VerdictStatus.internal),  # Aesop not imported by the checkers
        (["import Mathlib", "import Aesop"], VerdictStatus.proved),
    ],
)
async def test_the_checkers_import_the_prewarmed_headers_once(
    tmp_path: Path, headers: list[str], status: VerdictStatus
) -> None:
    # `--import M` for each module of PROOFGATE_PREWARM_HEADERS; an export importing another is
    # the pool's configuration (bad_input: internal), never the proof's fault
    code = "import Aesop\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    stack = warm_stack(tmp_path, prewarm_headers=headers)
    async with running_service(stack) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is status, verdict.reason
    if status is VerdictStatus.internal:
        assert "Aesop" in verdict.reason and "did not import" in verdict.reason


async def test_a_reference_cached_by_the_one_shot_audit_is_exported_once_later(
    tmp_path: Path,
) -> None:
    stack = warm_stack(tmp_path, audit_checker="oneshot")
    async with running_service(stack) as service:
        assert (await service.check(submission())).status is VerdictStatus.proved
    (reference,) = (stack.settings.data_dir / "references").iterdir()
    assert not (reference / REFERENCE_EXPORT).exists()  # the one-shot audit makes no export
    stack.settings.audit_checker = "warm"
    async with running_service(stack) as service:
        verdict = await service.check(submission("by rw [Nat.add_comm]"))
    assert verdict.status is VerdictStatus.proved, verdict.reason
    assert (reference / REFERENCE_EXPORT).is_file()
    assert [p.name for p in reference.iterdir() if p.name.startswith(".")] == []  # no partial
