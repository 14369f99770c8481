"""The one-shot elaborator on the audit's warm path (`audit_compiler=elab`, docs/audit-design.md
step 6) through the whole service, on stand-ins: the stand-in elaborator (tests/standins/elab.py)
in place of the stand-in compiler and exporter, the warm stand-in checker judging its exports.

What must hold: an honest proof is `proved`; a body with an error is `failed` with the
elaborator's message placed in the submitted text; a wrong statement is not proved; a constant
private to another module is refused; each check starts one audit program fewer than
compile-then-export; the elaborator needs the warm checkers."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from proofgate.config import Settings
from proofgate.exceptions import SubmissionError
from proofgate.models import Submission, VerdictStatus
from proofgate.verify.audit import Auditor
from proofgate.verify.warm_audit import REFERENCE_EXPORT
from tests.support.stack import STANDINS, Stack, make_stack, running_service

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
PROOF = "by exact Nat.add_comm a b"

#: Logs each start of an audit program (its role), then becomes it: counts processes started,
#: whoever started them (the jail, or the shell that joins a compile and its export).
COUNTING = """
import os, sys
log, role, *argv = sys.argv[1:]
with open(log, "a") as file:
    file.write(role + "\\n")
os.execv(argv[0], argv)
"""


def elab_stack(tmp_path: Path, **overrides: Any) -> Stack:
    options: dict[str, Any] = {
        "audit_checker": "warm",
        "audit_compiler": "elab",
        "checkers": 1,
        "cache_enabled": False,
        "audit_check_timeout": 5.0,
        "elab_command": f"{sys.executable} {STANDINS / 'elab.py'} {tmp_path / 'scenario.json'}",
    }
    options.update(overrides)
    return make_stack(tmp_path, **options)


def submission(proof: str = PROOF) -> Submission:
    return Submission(statement=STATEMENT, proof=proof, target="t1")


def code_submission(code: str) -> Submission:
    return Submission(statement=STATEMENT, code=code, target="t1")


async def test_an_honest_proof_is_proved_and_the_reference_is_an_export(tmp_path: Path) -> None:
    stack = elab_stack(tmp_path)
    async with running_service(stack) as service:
        first = await service.check(submission())
        second = await service.check(submission("by rw [Nat.add_comm]"))
    assert first.status is VerdictStatus.proved, first.reason
    assert second.status is VerdictStatus.proved, second.reason
    (reference,) = (stack.settings.data_dir / "references").iterdir()
    # made by the elaborator: its export and its record, no .olean
    assert {p.name for p in reference.iterdir()} == {"reference.json", REFERENCE_EXPORT}
    assert not any((stack.settings.data_dir / "audit").iterdir()), "scratch left behind"


async def test_a_body_with_an_error_is_failed_with_the_elaborators_message(tmp_path: Path) -> None:
    code = (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by simp_all\n"
        "-- standin-compiler: error the elaborator says simp_all failed\n"
    )
    async with running_service(elab_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.failed, verdict.reason
    # placed in the submitted text (line 4), not in the body the elaborator was given (line 3)
    assert "4:0: the elaborator says simp_all failed" in verdict.reason


async def test_a_wrong_statement_is_not_proved(tmp_path: Path) -> None:
    code = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = a + b := rfl\n"
    async with running_service(elab_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.statement_mismatch, verdict.reason


async def test_a_constant_private_to_another_module_is_failed(tmp_path: Path) -> None:
    code = (
        "import Mathlib\n\ntheorem _private.Other.0.helper : True := trivial\n\n"
        "theorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    )
    async with running_service(elab_stack(tmp_path)) as service:
        verdict = await service.check(code_submission(code))
    assert verdict.status is VerdictStatus.failed, verdict.reason
    assert "module_mismatch" in verdict.reason


async def test_a_statement_that_does_not_elaborate_is_the_statements_fault(
    tmp_path: Path,
) -> None:
    statement = STATEMENT + "-- standin-compiler: error unknown identifier 'Nat.foo'\n"
    stack = elab_stack(tmp_path)
    async with running_service(stack) as service:
        with pytest.raises(
            SubmissionError, match=re.escape("unknown identifier 'Nat.foo'")
        ) as caught:
            await service.check(Submission(statement=statement, proof=PROOF, target="t1"))
    assert caught.value.field == "statement"
    assert not any((stack.settings.data_dir / "references").iterdir()), "a failure was cached"


def counting_stack(tmp_path: Path, compiler: str) -> tuple[Stack, Path]:
    """A stack whose audit programs log each start to the returned file."""
    log = tmp_path / "starts.log"
    counting = tmp_path / "counting.py"
    counting.write_text(COUNTING, encoding="utf-8")
    scenario = tmp_path / "scenario.json"

    def counted(role: str, script: str, *extra: str) -> str:
        words = [sys.executable, str(counting), str(log), role, sys.executable, script, *extra]
        return " ".join(words)

    stack = elab_stack(
        tmp_path,
        audit_compiler=compiler,
        compile_command=counted("compile", str(STANDINS / "compiler.py")),
        export_command=counted("export", str(STANDINS / "olean_exporter.py"), str(scenario)),
        elab_command=counted("elab", str(STANDINS / "elab.py"), str(scenario)),
    )
    return stack, log


@pytest.mark.parametrize(("compiler", "per_check"), [("lean", 2), ("elab", 1)])
async def test_a_check_starts_one_audit_program_fewer_with_the_elaborator(
    tmp_path: Path, compiler: str, per_check: int
) -> None:
    stack, log = counting_stack(tmp_path, compiler)
    async with running_service(stack) as service:
        first = await service.check(submission())  # the reference is made here
        made = log.read_text("utf-8").splitlines()
        second = await service.check(submission("by rw [Nat.add_comm]"))  # cached reference
        started = log.read_text("utf-8").splitlines()[len(made) :]
    assert first.status is VerdictStatus.proved and second.status is VerdictStatus.proved
    # lean: compile then export, for the statement and the submission; elab: one run each
    expected = ["compile", "export"] if compiler == "lean" else ["elab"]
    assert sorted(made) == sorted(expected * 2)
    assert started == expected and len(started) == per_check


def test_the_elaborator_without_the_warm_checkers_is_refused_naming_both_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROOFGATE_AUDIT_COMPILER", "elab")
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path)
    text = str(refused.value)
    assert "PROOFGATE_AUDIT_COMPILER=elab" in text and "PROOFGATE_AUDIT_CHECKER=warm" in text
    monkeypatch.setenv("PROOFGATE_AUDIT_CHECKER", "warm")
    assert Settings(data_dir=tmp_path).audit_compiler == "elab"
    monkeypatch.setenv("PROOFGATE_AUDIT_CHECKER", "oneshot")
    monkeypatch.setenv("PROOFGATE_AUDIT_COMPILER", "lean")
    assert Settings(data_dir=tmp_path).audit_checker == "oneshot"  # today's default path


def test_settings_changed_after_reading_are_refused_by_the_auditor(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, audit_checker="warm", audit_compiler="elab")
    settings.audit_checker = "oneshot"
    with pytest.raises(ValueError, match="PROOFGATE_AUDIT_CHECKER=warm"):
        Auditor(settings)


async def test_a_reference_made_by_the_elaborator_is_cached_apart_from_a_compiled_one(
    tmp_path: Path,
) -> None:
    # requirement 5: the key names what made the reference (and the elaborator's command)
    stack = elab_stack(tmp_path)
    async with running_service(stack) as service:
        environment = service._environments["default"]
    elab = Auditor(stack.settings).reference_key(environment, STATEMENT)
    lean = Settings(**{**stack.settings.model_dump(), "audit_compiler": "lean"})
    other = Settings(**{**stack.settings.model_dump(), "elab_command": "another elab"})
    assert Auditor(lean).reference_key(environment, STATEMENT) != elab
    assert Auditor(other).reference_key(environment, STATEMENT) != elab
    assert Auditor(stack.settings).reference_key(environment, STATEMENT) == elab


async def test_an_unbuilt_elaborator_is_internal_never_the_submissions_failure(
    tmp_path: Path,
) -> None:
    # the default command is the environment's own binary under `lake env`; missing, the run
    # would fail as if the text did: the audit says so instead
    async with running_service(elab_stack(tmp_path, elab_command=None)) as service:
        verdict = await service.check(submission())
    assert verdict.status is VerdictStatus.internal, verdict.reason
    assert "lake build proofgate-elab" in verdict.reason
