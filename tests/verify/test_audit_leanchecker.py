"""The optional second replay by the toolchain's `leanchecker` (`Settings.leanchecker`), with a
stand-in that speaks its real command line and exit codes (tests/standins/leanchecker.py), and the
stand-in checker's rules for a rewritten .olean (issue 20, defects 2 and 4)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError
from proofgate.verify.audit import Auditor, AuditRequest
from proofgate.verify.contract import AuditOutcome, AuditReport, CompileFailure
from proofgate.verify.verdict import VerdictStatus, decide_verdict
from tests.standins.runner import NoSpawner, local_runner

STANDINS = Path(__file__).resolve().parents[1] / "standins"
ALLOWED = ("propext", "Classical.choice", "Quot.sound")
STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
CODE = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


class Harness:
    def __init__(self, tmp_path: Path, *, leanchecker: bool) -> None:
        project = tmp_path / "project"
        project.mkdir()
        (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
        self.environment = Environment(
            name="default",
            directory=project,
            toolchain="leanprover/lean4:v4.32.0",
            packages={"mathlib": "81a5d257", "batteries": "0f3e1a", "REPL": "abc"},
        )
        self.scenario_file = tmp_path / "leanchecker-scenario.json"
        self.log = tmp_path / "leanchecker-argv.json"
        checker_scenario = tmp_path / "checker-scenario.json"
        checker_scenario.write_text("{}")
        self.settings = Settings(
            data_dir=tmp_path / "data",
            elan_home=tmp_path / "elan",
            audit_timeout=5.0,
            compile_command=f"{sys.executable} {STANDINS / 'compiler.py'}",
            checker_command=f"{sys.executable} {STANDINS / 'checker.py'} {checker_scenario}",
            leanchecker=leanchecker,
            leanchecker_command=f"{sys.executable} {STANDINS / 'leanchecker.py'} "
            f"{self.scenario_file}",
        )
        self.auditor = Auditor(self.settings, runner=local_runner, spawner=NoSpawner())
        self.scenario()

    def scenario(self, **scenario: Any) -> None:
        scenario.setdefault("argv_log", str(self.log))
        self.scenario_file.write_text(json.dumps(scenario))

    async def audit(
        self, code: str = CODE, statement: str | None = STATEMENT
    ) -> AuditReport | CompileFailure:
        return await self.auditor.audit(
            AuditRequest(
                environment=self.environment,
                statement=statement,
                code=code,
                target="t1" if statement is not None else None,
                allowed_axioms=ALLOWED,
            )
        )

    def call(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.log.read_text())
        return result


def verdict(report: AuditReport | CompileFailure) -> tuple[VerdictStatus, str]:
    return decide_verdict(
        kind="check",
        violations=[],
        repl_messages=[],
        audit=report,
        allowed_axioms=ALLOWED,
        target="t1",
    )


def test_the_second_replay_is_off_by_default() -> None:
    assert Settings().leanchecker is False
    assert Settings().leanchecker_command == "lake env leanchecker"


async def test_off_it_never_runs(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=False)
    report = await harness.audit()
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.ok
    assert not harness.log.exists()
    assert "leanchecker_process" not in report.timings_ms


async def test_on_it_replays_the_submissions_module_by_name_from_the_scratch_directory(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    report = await harness.audit()
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.ok
    assert verdict(report)[0] is VerdictStatus.proved
    call = harness.call()
    assert call["argv"] == ["ProofgateSubmission"]  # a module name: no --fresh, no file path
    [scratch] = call["lean_path"]
    assert Path(scratch).parent == harness.settings.data_dir / "audit"
    assert call["cwd"] == str(harness.environment.directory)
    assert "leanchecker_process" in report.timings_ms


async def test_a_checker_ok_that_leanchecker_refuses_is_internal_naming_leanchecker(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    harness.scenario(mode="refuse (kernel) declaration type mismatch, 't1'")
    with pytest.raises(AuditError, match="leanchecker disagrees") as caught:
        await harness.audit()
    assert "exit 1" in str(caught.value) and "declaration type mismatch" in str(caught.value)


async def test_both_refusing_is_agreement(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    code = CODE + "-- standin-compiler: kernel-refuses declaration has metavariables\n"
    report = await harness.audit(code)
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.replay_failed
    assert "leanchecker" not in report.detail
    assert verdict(report)[0] is VerdictStatus.failed


async def test_a_tampered_olean_leanchecker_accepts_is_still_refused_and_names_it(
    tmp_path: Path,
) -> None:
    """leanchecker reads the file as written: it is no defence against a rewritten .olean."""
    harness = Harness(tmp_path, leanchecker=True)
    report = await harness.audit(CODE + "-- standin-compiler: tamper-literal -4294967296\n")
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.replay_failed
    status, reason = verdict(report)
    assert status is VerdictStatus.failed
    assert "leanchecker disagrees: it accepted the module" in reason


async def test_a_leanchecker_that_cannot_find_the_module_is_internal(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    harness.settings.leanchecker_command += " --fresh Elsewhere"
    with pytest.raises(AuditError, match="could not load the module"):
        await harness.audit()


async def test_a_leanchecker_killed_twice_is_internal(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    harness.scenario(mode="kill")
    with pytest.raises(AuditError, match="leanchecker was killed from outside twice"):
        await harness.audit()


async def test_a_hung_leanchecker_is_internal(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=True)
    harness.settings.audit_timeout = 1.0
    harness.scenario(mode="hang")
    with pytest.raises(AuditError, match="did not finish"):
        await harness.audit()


# --- the stand-in checker's rules for a rewritten .olean (defects 2 and 4) ----------------------


async def test_a_rewritten_statement_hash_is_compared_on_the_rebuilt_statement(
    tmp_path: Path,
) -> None:
    """The submission claims the locked statement's hash for another statement: the checker
    recomputes it from the term (defect 2) and finds the mismatch."""
    harness = Harness(tmp_path, leanchecker=False)
    other = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = a + b := rfl\n"
    claimed = "(a b : ℕ) : a + b = b + a"
    report = await harness.audit(other + f"-- standin-compiler: tamper-statement {claimed}\n")
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.type_mismatch
    assert verdict(report)[0] is VerdictStatus.statement_mismatch


@pytest.mark.parametrize("literal", ["-4294967296", "007", "1_000", "0x10"])
async def test_a_literal_that_is_no_canonical_numeral_is_refused(
    tmp_path: Path, literal: str
) -> None:
    harness = Harness(tmp_path, leanchecker=False)
    report = await harness.audit(CODE + f"-- standin-compiler: tamper-literal {literal}\n")
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.replay_failed
    assert "malformed term" in report.detail and report.declaration == "t1"
    assert report.declarations == []
    assert verdict(report)[0] is VerdictStatus.failed


async def test_canonical_literals_in_the_source_pass(tmp_path: Path) -> None:
    harness = Harness(tmp_path, leanchecker=False)
    code = CODE.replace("Nat.add_comm a b", "by have : (007 : ℕ) + 0 = 7 := rfl; omega")
    report = await harness.audit(code)
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.ok


async def test_a_locked_check_lists_the_targets_closure_only(tmp_path: Path) -> None:
    """Defect 4: with a target, only the declarations it reaches are walked and listed."""
    harness = Harness(tmp_path, leanchecker=False)
    code = (
        "import Mathlib\n\nlemma helper (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n\n"
        "lemma unused : 1 = 1 := rfl\n\n"
        "theorem t1 (a b : ℕ) : a + b = b + a := helper a b\n"
    )
    report = await harness.audit(code)
    assert isinstance(report, AuditReport) and report.outcome is AuditOutcome.ok
    assert sorted(d.name for d in report.declarations) == ["helper", "t1"]
    free = await harness.audit(code, statement=None)
    assert isinstance(free, AuditReport)
    assert sorted(d.name for d in free.declarations) == ["helper", "t1", "unused"]
