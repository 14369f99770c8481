"""The audit flow against stand-ins for the compiler and the trusted checker.

Every way the checker can answer, fail to answer, or answer wrongly ends in a report that cannot
give `proved`, a `CompileFailure`, or an `AuditError`: never in a pass by accident.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError, SubmissionError
from proofgate.sandbox.process import SpawnSpec
from proofgate.verify.audit import (
    Auditor,
    AuditRequest,
    checker_argv,
    killed_by,
    parse_checker_output,
)
from proofgate.verify.contract import CONTRACT_VERSION, AuditOutcome, AuditReport, CompileFailure
from tests.standins.runner import LocalResult, NoSpawner, local_runner

STANDINS = Path(__file__).resolve().parents[1] / "standins"
ALLOWED = ("propext", "Classical.choice", "Quot.sound")
STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
CODE = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


def would_prove(report: AuditReport, allowed: Sequence[str] = ALLOWED) -> bool:
    """The least a `proved` needs from the audit (the verdict logic may ask more, never less)."""
    return (
        report.outcome is AuditOutcome.ok
        and report.target is not None
        and not report.disallowed_axioms
        and set(report.target_axioms) <= set(allowed)
    )


@pytest.fixture
def environment(tmp_path: Path) -> Environment:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    return Environment(
        name="default",
        directory=directory,
        toolchain="leanprover/lean4:v4.32.0",
        packages={"mathlib": "81a5d257", "batteries": "0f3e1a", "REPL": "abc"},
    )


class Harness:
    """An Auditor wired to the stand-ins, and the scenario the stand-in checker acts out."""

    def __init__(self, tmp_path: Path, environment: Environment) -> None:
        self.environment = environment
        self.scenario_file = tmp_path / "scenario.json"
        self.argv_log = tmp_path / "checker-argv.json"
        self.settings = Settings(
            data_dir=tmp_path / "data",
            elan_home=tmp_path / "elan",
            audit_timeout=2.0,
            compile_command=f"{sys.executable} {STANDINS / 'compiler.py'}",
            checker_command=f"{sys.executable} {STANDINS / 'checker.py'} {self.scenario_file}",
        )
        self.auditor = Auditor(self.settings, runner=local_runner, spawner=NoSpawner())
        self.scenario()

    def scenario(self, **scenario: Any) -> None:
        scenario.setdefault("argv_log", str(self.argv_log))
        self.scenario_file.write_text(json.dumps(scenario))

    async def audit(
        self,
        *,
        statement: str | None = STATEMENT,
        code: str = CODE,
        target: str | None = "t1",
        answer_holes: list[str] | None = None,
        environment: Environment | None = None,
    ) -> AuditReport | CompileFailure:
        return await self.auditor.audit(
            AuditRequest(
                environment=environment or self.environment,
                statement=statement,
                code=code,
                target=target,
                answer_holes=tuple(answer_holes or ()),
                allowed_axioms=ALLOWED,
            )
        )

    def checker_call(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.argv_log.read_text())
        return result


@pytest.fixture
def harness(tmp_path: Path, environment: Environment) -> Harness:
    return Harness(tmp_path, environment)


# --- the flow ----------------------------------------------------------------------------------


async def test_locked_check_passes_the_checker_everything_it_needs(harness: Harness) -> None:
    report = await harness.audit(answer_holes=["answer"])
    assert report.outcome is AuditOutcome.ok and would_prove(report)
    assert report.target == "t1" and report.answers == {"answer": "42"}
    assert {"compile_statement", "compile_submission", "checker_process", "replay"} <= set(
        report.timings_ms
    )
    call = harness.checker_call()
    argv = call["argv"]
    submission = Path(argv[argv.index("--submission") + 1])
    challenge = Path(argv[argv.index("--challenge") + 1])
    assert submission.name == challenge.name == "ProofgateSubmission.olean"
    assert challenge.parent.parent == harness.settings.data_dir / "references"
    assert argv[argv.index("--target") + 1] == "t1"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--axiom"] == list(ALLOWED)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--answer-hole"] == ["answer"]
    roots = [argv[i + 1] for i, a in enumerate(argv) if a == "--module-root"]
    assert roots == sorted(harness.environment.module_roots)
    assert "Mathlib" in roots and "REPL" not in roots
    assert call["env"]["LEAN_ABORT_ON_PANIC"] == "1"
    assert not any((harness.settings.data_dir / "audit").iterdir()), "scratch left behind"


async def test_statement_and_submission_are_one_module_named_apart_from_their_directories(
    harness: Harness,
) -> None:
    """Lean names a module after its path under `-R` (default: the working directory, which holds
    neither file); both files are `ProofgateSubmission`, never `.building-...` or the scratch id."""
    report = await harness.audit()
    assert report.outcome is AuditOutcome.ok
    assert harness.checker_call()["modules"] == {
        "submission": "ProofgateSubmission",
        "challenge": "ProofgateSubmission",
    }


async def test_a_private_helper_of_the_statement_is_the_same_constant_in_the_submission(
    harness: Harness,
) -> None:
    """`private def d` is `_private.<module>.0.d`: it matches only under one module name."""
    helper = "private def d (n : ℕ) : ℕ := 2 * n\n\n"
    statement = STATEMENT.replace(
        "theorem t1 (a b : ℕ) : a + b = b + a", helper + "theorem t1 (a b : ℕ) : d a = d a"
    )
    code = statement.replace(":= by sorry", ":= rfl")
    report = await harness.audit(statement=statement, code=code)
    assert report.outcome is AuditOutcome.ok and would_prove(report)
    assert "_private.ProofgateSubmission.0.d" in {d.name for d in report.declarations}
    changed = code.replace("2 * n", "n + n")
    report = await harness.audit(statement=statement, code=changed)
    assert report.outcome is AuditOutcome.statement_constant_changed
    assert report.declaration == "_private.ProofgateSubmission.0.d"


async def test_a_submission_stating_something_else_is_a_type_mismatch(harness: Harness) -> None:
    code = CODE.replace("a + b = b + a := Nat.add_comm a b", "a + 0 = a := rfl")
    report = await harness.audit(code=code)
    assert report.outcome is AuditOutcome.type_mismatch and report.declaration == "t1"
    assert not would_prove(report)
    missing = await harness.audit(code=CODE.replace("theorem t1", "theorem t2"))
    assert missing.outcome is AuditOutcome.target_missing


async def test_the_axioms_are_those_the_compiled_source_reaches(harness: Harness) -> None:
    report = await harness.audit(code=CODE + "-- standin-axioms: propext sorryAx\n")
    assert report.target_axioms == ["propext", "sorryAx"]
    assert report.disallowed_axioms == ["sorryAx"] and not would_prove(report)


async def test_free_compile_runs_the_checker_without_challenge_or_target(harness: Harness) -> None:
    report = await harness.audit(statement=None, target=None)
    assert report.outcome is AuditOutcome.ok and report.target is None
    assert not would_prove(report)  # a free compile can be `compiled`, never `proved`
    argv = harness.checker_call()["argv"]
    assert "--challenge" not in argv and "--target" not in argv
    assert not (harness.settings.data_dir / "references").exists()


async def test_free_compile_with_a_sorry_theorem_is_judged(harness: Harness) -> None:
    harness.scenario(axioms=["sorryAx"], report={"target_axioms": []})
    report = await harness.audit(statement=None, target=None)
    assert report.disallowed_axioms == ["sorryAx"]


async def test_the_reference_is_compiled_once_per_statement_and_environment(
    harness: Harness, environment: Environment
) -> None:
    statement = STATEMENT
    await harness.audit(statement=statement)
    references = harness.settings.data_dir / "references"
    first = sorted(references.iterdir())
    assert len(first) == 1
    olean = first[0] / "ProofgateSubmission.olean"
    stamp = olean.stat().st_mtime_ns
    await harness.audit(statement=statement)
    assert sorted(references.iterdir()) == first and olean.stat().st_mtime_ns == stamp
    other = Environment(
        environment.name,
        environment.directory,
        environment.toolchain,
        {**environment.packages, "mathlib": "another-commit"},
    )
    await harness.audit(statement=statement, environment=other)
    assert len(list(references.iterdir())) == 2


async def test_concurrent_audits_of_one_statement_share_one_reference(harness: Harness) -> None:
    reports = await asyncio.gather(*(harness.audit() for _ in range(3)))
    assert all(r.outcome is AuditOutcome.ok for r in reports)
    entries = list((harness.settings.data_dir / "references").iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".building")


async def test_the_statement_and_the_submission_compile_side_by_side(
    harness: Harness, tmp_path: Path
) -> None:
    # Each compile waits for the other to have started: run one after the other, the first would
    # wait alone until the audit's timeout ended it.
    statement_started, submission_started = tmp_path / "statement", tmp_path / "submission"
    meet = "-- standin-compiler: meet {} {}\n"
    report = await harness.audit(
        statement=meet.format(statement_started, submission_started) + STATEMENT,
        code=meet.format(submission_started, statement_started) + CODE,
    )
    assert report.outcome is AuditOutcome.ok and would_prove(report)
    assert {"compile_statement", "compile_submission"} <= set(report.timings_ms)


async def test_a_statement_that_does_not_compile_is_the_statements_fault(harness: Harness) -> None:
    statement = "-- standin-compiler: error unknown identifier 'Nat.foo'\n" + STATEMENT
    with pytest.raises(SubmissionError, match=re.escape("unknown identifier 'Nat.foo'")) as caught:
        await harness.audit(statement=statement)
    assert caught.value.field == "statement"
    assert not harness.argv_log.exists(), "the checker ran on a broken reference"
    assert not any((harness.settings.data_dir / "references").iterdir()), "a failure was cached"


@pytest.mark.parametrize("submission", ["error unknown identifier 'foo'", "hang"])
async def test_a_broken_statement_is_the_answer_whatever_the_submission_does(
    harness: Harness, submission: str
) -> None:
    statement = "-- standin-compiler: error unknown identifier 'Nat.foo'\n" + STATEMENT
    code = f"-- standin-compiler: {submission}\n" + CODE
    with pytest.raises(SubmissionError) as caught:
        await harness.audit(statement=statement, code=code)
    assert caught.value.field == "statement"
    assert not any((harness.settings.data_dir / "audit").iterdir()), "scratch left behind"


async def test_a_submission_that_does_not_compile_fails_with_leans_messages(
    harness: Harness,
) -> None:
    code = "-- standin-compiler: error unknown identifier 'foo'\n" + CODE
    failure = await harness.audit(code=code)  # a value, not an exception: the submission's outcome
    assert isinstance(failure, CompileFailure)
    assert failure.messages == ["3:2: unknown identifier 'foo'"]
    assert not failure.timed_out and not failure.out_of_memory
    assert not harness.argv_log.exists()
    assert not any((harness.settings.data_dir / "audit").iterdir())


async def test_a_compile_that_hangs_is_a_timeout_of_the_submission(harness: Harness) -> None:
    failure = await harness.audit(code="-- standin-compiler: hang\n" + CODE)
    assert isinstance(failure, CompileFailure) and failure.timed_out


async def test_a_compiler_killed_from_outside_twice_is_an_audit_error_naming_both_exits(
    harness: Harness,
) -> None:
    """Not the proof's outcome (`failed: does not compile (exit 137)` would be cached): the
    service's, retried once on a fresh process, then `internal` with both exits."""
    with pytest.raises(
        AuditError,
        match=r"killed from outside twice \(exit -9 \(SIGKILL\), "
        r"then exit -9 \(SIGKILL\)\)",
    ):
        await harness.audit(code="-- standin-compiler: crash\n" + CODE)
    assert not harness.argv_log.exists()
    assert not any((harness.settings.data_dir / "audit").iterdir())


async def test_a_compiler_killed_once_is_run_again_on_a_fresh_process(
    harness: Harness, tmp_path: Path
) -> None:
    flag = tmp_path / "killed-once"
    report = await harness.audit(code=f"-- standin-compiler: crash-once {flag}\n" + CODE)
    assert flag.exists() and report.outcome is AuditOutcome.ok and would_prove(report)


async def test_a_statement_compile_killed_twice_is_not_blamed_on_the_statement(
    harness: Harness,
) -> None:
    statement = "-- standin-compiler: crash\n" + STATEMENT
    with pytest.raises(AuditError, match="compiling the locked statement was killed"):
        await harness.audit(statement=statement)
    assert not any((harness.settings.data_dir / "references").iterdir()), "a kill was cached"


async def test_a_checker_killed_once_is_run_again_and_twice_is_an_audit_error(
    harness: Harness, tmp_path: Path
) -> None:
    flag = tmp_path / "checker-killed-once"
    harness.scenario(mode="kill-once", flag=str(flag))
    report = await harness.audit()
    assert flag.exists() and report.outcome is AuditOutcome.ok
    harness.scenario(mode="kill")
    with pytest.raises(AuditError, match="the trusted checker was killed from outside twice"):
        await harness.audit()


@pytest.mark.parametrize(
    ("returncode", "killed"),
    [
        (0, None),
        (1, None),
        (2, None),
        (-9, 9),
        (-6, 6),
        (137, 9),
        (134, 6),
        (128, None),
        (300, None),
    ],
)
def test_an_outside_kill_is_read_from_the_exit_status(returncode: int, killed: int | None) -> None:
    result = LocalResult(returncode, b"", b"", timed_out=False, out_of_memory=False, duration_ms=1)
    assert killed_by(result) == killed


@pytest.mark.parametrize(
    "fields",
    [
        {"timed_out": True},
        {"out_of_memory": True},
        {"output_truncated": True},
        {"limit_exceeded": "processes"},
    ],
)
def test_the_services_own_kills_are_not_outside_kills(fields: dict[str, Any]) -> None:
    result = LocalResult(
        -9, b"", b"", **{"timed_out": False, "out_of_memory": False, **fields}, duration_ms=1
    )
    assert killed_by(result) is None


async def test_a_compile_over_the_process_cap_is_the_submissions_failure(
    harness: Harness,
) -> None:
    """The watchdog's kill for too many tasks is the submission's doing: `failed`, not retried."""
    submission_runs: list[SpawnSpec] = []

    def is_submission(spec: SpawnSpec) -> bool:  # the statement compiles in a .building- directory
        argv = " ".join(spec.argv)
        return "ProofgateSubmission.lean" in argv and ".building-" not in argv

    async def over_the_cap(spawner: object, spec: SpawnSpec, *args: Any, **kwargs: Any) -> Any:
        result = await local_runner(spawner, spec, *args, **kwargs)  # type: ignore[arg-type]
        if not is_submission(spec):
            return result
        submission_runs.append(spec)
        return dataclasses.replace(result, returncode=-9, limit_exceeded="processes")

    harness.auditor = Auditor(harness.settings, runner=over_the_cap, spawner=NoSpawner())
    failure = await harness.audit()
    assert isinstance(failure, CompileFailure)
    assert failure.reason == "compiling the submission went over the process cap"
    assert len(submission_runs) == 1  # not retried as an outside kill would be


async def test_a_compiler_that_writes_no_olean_is_an_audit_error(harness: Harness) -> None:
    with pytest.raises(AuditError, match="wrote no"):
        await harness.audit(code="-- standin-compiler: silent\n" + CODE)


async def test_statement_and_target_come_together(harness: Harness) -> None:
    with pytest.raises(SubmissionError):
        await harness.audit(target=None)
    with pytest.raises(SubmissionError):
        await harness.audit(statement=None, target="t1")
    with pytest.raises(SubmissionError):
        await harness.audit(statement=None, target=None, answer_holes=["answer"])


# --- every outcome the checker can conclude ------------------------------------------------------

REJECTIONS: dict[str, dict[str, Any]] = {
    "target_missing": {"declaration": "t1", "detail": "the submission declares no t1"},
    "not_a_theorem": {"declaration": "t1", "detail": "t1 is a definition, not a theorem"},
    "type_mismatch": {"declaration": "t1"},
    "universe_mismatch": {"declaration": "t1"},
    "statement_constant_changed": {"declaration": "f", "detail": "f: the definition changed"},
    "replay_failed": {"declaration": "t1.proof_1", "detail": "(kernel) application type mismatch"},
    "target_not_replayed": {"declaration": "t1"},
    "import_not_allowed": {"detail": "import Evil is outside the allowed modules"},
    "bad_input": {"detail": "cannot read ProofgateSubmission.olean"},
}


@pytest.mark.parametrize("outcome", sorted(REJECTIONS))
async def test_every_rejecting_outcome_is_returned_and_never_passes(
    harness: Harness, outcome: str
) -> None:
    harness.scenario(report={"outcome": outcome, "target_axioms": [], **REJECTIONS[outcome]})
    report = await harness.audit()
    assert report.outcome is AuditOutcome(outcome)
    assert report.declaration == REJECTIONS[outcome].get("declaration")
    assert not would_prove(report)


def test_the_rejection_table_covers_every_outcome() -> None:
    assert set(REJECTIONS) == {o.value for o in AuditOutcome} - {"ok"}


@pytest.mark.parametrize(
    ("axioms", "disallowed"),
    [
        (["propext", "cheat"], ["cheat"]),
        (["sorryAx", "propext"], ["sorryAx"]),
        (["Lean.ofReduceBool", "Lean.trustCompiler"], ["Lean.ofReduceBool", "Lean.trustCompiler"]),
        (["t3._native.native_decide.ax_1_1"], ["t3._native.native_decide.ax_1_1"]),
    ],
)
async def test_axioms_outside_the_allowlist_are_named_and_never_pass(
    harness: Harness, axioms: list[str], disallowed: list[str]
) -> None:
    harness.scenario(axioms=axioms)
    report = await harness.audit()
    assert report.outcome is AuditOutcome.ok
    assert report.disallowed_axioms == disallowed
    assert set(disallowed) <= set(report.target_axioms)
    assert not would_prove(report)


# --- a checker that fails to conclude, or concludes wrongly -------------------------------------

BROKEN: dict[str, dict[str, Any]] = {
    "crash": {"mode": "crash"},
    "abort (panic)": {"mode": "abort"},
    "hang": {"mode": "hang"},
    "garbage": {"mode": "garbage"},
    "two results": {"mode": "two"},
    "nothing": {"mode": "raw", "stdout": ""},
    "a JSON array": {"mode": "raw", "stdout": "[]"},
    "valid report, exit 1": {"mode": "raw", "exit": 1, "stdout": "{}"},
    "extra field": {"report": {"proved": True}},
    "missing field": {"mode": "raw", "stdout": json.dumps({"contract": 1, "outcome": "ok"})},
    "unknown outcome": {"report": {"outcome": "proved"}},
    "wrong contract": {"report": {"contract": CONTRACT_VERSION + 1}},
    "wrong target": {"report": {"target": "t2"}},
    "wrong lean": {"report": {"lean": "v4.31.0"}},
    "axioms misjudged": {"axioms": ["sorryAx"], "report": {"disallowed_axioms": []}},
    "target axioms hidden": {"axioms": ["sorryAx"], "report": {"target_axioms": []}},
    "target not listed": {"report": {"declarations": []}},
    "target not replayed but ok": {
        "report": {"declarations": [{"name": "t1", "kind": "theorem", "replayed": False}]}
    },
    "answer missing": {"report": {"answers": {}}},
    "string for a number": {"report": {"contract": "1"}},
}


#: Every field of the report but `detail`, `target`, `declaration` and `timings_ms` is required
#: (docs/checker-contract.md): a checker that leaves one out broke the contract.
REQUIRED_FIELDS = ("contract", "target_axioms", "disallowed_axioms", "declarations", "answers")


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
async def test_a_checker_that_leaves_out_a_required_field_is_an_audit_error(
    harness: Harness, field: str
) -> None:
    report = _valid_report(answers={})
    del report[field]
    harness.scenario(mode="raw", stdout=json.dumps(report))
    with pytest.raises(AuditError, match=field):
        await harness.audit()


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_parse_refuses_a_report_without_a_required_field(field: str) -> None:
    report = _valid_report()
    del report[field]
    with pytest.raises(AuditError, match=field):
        parse_checker_output(json.dumps(report).encode())


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_a_broken_checker_is_an_audit_error(harness: Harness, case: str) -> None:
    scenario = dict(BROKEN[case])
    if scenario.get("mode") == "raw" and scenario["stdout"] == "{}":
        scenario["stdout"] = json.dumps(_valid_report())
    harness.scenario(**scenario)
    with pytest.raises(AuditError):
        await harness.audit(answer_holes=["answer"])
    assert not any((harness.settings.data_dir / "audit").iterdir())


async def test_a_checker_that_cannot_start_is_an_audit_error(harness: Harness) -> None:
    harness.settings.checker_command = str(harness.settings.data_dir / "no-such-checker")
    with pytest.raises(AuditError, match="could not start"):
        await harness.audit()


# --- parsing and the command line ---------------------------------------------------------------


def _valid_report(**fields: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "contract": CONTRACT_VERSION,
        "checker": "x",
        "lean": "v4.32.0",
        "outcome": "ok",
        "target": "t1",
        "target_axioms": ["propext"],
        "disallowed_axioms": [],
        "declarations": [
            {"name": "t1", "kind": "theorem", "axioms": ["propext"], "replayed": True}
        ],
        "answers": {"answer": "42"},
        "timings_ms": {"total": 5},
    }
    report.update(fields)
    return report


@pytest.mark.parametrize("field", ["axioms", "replayed"])
def test_parse_refuses_a_declaration_without_a_required_field(field: str) -> None:
    report = _valid_report()
    del report["declarations"][0][field]
    with pytest.raises(AuditError, match=field):
        parse_checker_output(json.dumps(report).encode())


def test_parse_accepts_exactly_one_object_with_surrounding_whitespace() -> None:
    report = parse_checker_output(b"\n  " + json.dumps(_valid_report()).encode() + b"\n")
    assert report.outcome is AuditOutcome.ok and report.timings_ms == {"total": 5.0}
    assert report.declarations[0].replayed is True


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe{}",
        b'{"contract": 1, "contract": 1}',
        json.dumps(_valid_report()).replace('"total": 5', '"total": NaN').encode(),
        json.dumps(_valid_report()).encode() + b" {}",
        json.dumps(_valid_report()).encode() + b" trailing",
        json.dumps(_valid_report(extra=1)).encode(),
        json.dumps([_valid_report()]).encode(),
        json.dumps(_valid_report(outcome="OK")).encode(),
    ],
    ids=[
        "empty",
        "not-utf8",
        "duplicate-key",
        "nan",
        "two-values",
        "trailing",
        "extra",
        "array",
        "case",
    ],
)
def test_parse_refuses_anything_but_one_valid_object(raw: bytes) -> None:
    with pytest.raises(AuditError):
        parse_checker_output(raw)


def test_checker_argv_locked_and_free(tmp_path: Path) -> None:
    locked = checker_argv(
        ["proofgate-checker"],
        submission=tmp_path / "S.olean",
        challenge=tmp_path / "C.olean",
        target="Foo.t₁",
        allowed_axioms=["propext"],
        answer_holes=["ans"],
        module_roots=["Init"],
    )
    assert locked == [
        "proofgate-checker",
        "--submission",
        str(tmp_path / "S.olean"),
        "--challenge",
        str(tmp_path / "C.olean"),
        "--target",
        "Foo.t₁",
        "--axiom",
        "propext",
        "--answer-hole",
        "ans",
        "--module-root",
        "Init",
    ]
    free = checker_argv(
        ["lake", "env", "x"],
        submission=tmp_path / "S.olean",
        challenge=None,
        target=None,
        allowed_axioms=[],
        answer_holes=[],
        module_roots=["Init", "Mathlib"],
    )
    assert free == [
        "lake",
        "env",
        "x",
        "--submission",
        str(tmp_path / "S.olean"),
        "--module-root",
        "Init",
        "--module-root",
        "Mathlib",
    ]


def test_the_default_checker_is_the_environments_build_under_lake_env(
    environment: Environment, tmp_path: Path
) -> None:
    auditor = Auditor(Settings(data_dir=tmp_path / "d"))
    command = auditor._checker_command(environment)
    assert command == [
        "lake",
        "env",
        str(environment.directory / ".lake/build/bin/proofgate-checker"),
    ]


async def test_the_default_runner_is_the_sandboxs_run_jailed(
    tmp_path: Path, environment: Environment
) -> None:
    """The same flow through `proofgate.sandbox.run_jailed` with the unjailed spawner."""
    spawn = pytest.importorskip("proofgate.sandbox.group")
    pytest.importorskip("proofgate.sandbox").run_jailed  # noqa: B018 - skip until it lands
    harness = Harness(tmp_path, environment)
    auditor = Auditor(harness.settings, spawner=spawn.ProcessGroupSpawner())
    request = AuditRequest(
        environment=environment,
        statement=STATEMENT,
        code=CODE,
        target="t1",
        allowed_axioms=ALLOWED,
    )
    report = await auditor.audit(request)
    assert report.outcome is AuditOutcome.ok
    harness.scenario(mode="garbage")
    with pytest.raises(AuditError):
        await auditor.audit(request)


def test_an_environments_audit_runs_on_its_own_lean_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PROOFGATE_LEAN_HOME is `default`'s; another environment's audit must not see that Lean
    default_home, own_home = tmp_path / "lean-default", tmp_path / "lean-v4-15"
    for home in (default_home, own_home):
        (home / "bin").mkdir(parents=True)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(own_home))
    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", lean_home=default_home
    )
    auditor = Auditor(settings, runner=local_runner, spawner=NoSpawner())
    directory = tmp_path / "LeanProjects" / "lean_v4_15_0"
    directory.mkdir(parents=True)
    other = Environment("lean_v4_15_0", directory, "leanprover/lean4:v4.15.0", {"REPL": "x"})
    spec, _ = auditor._spec(["lean"], other, read_only=[], writable=[], checker=False)
    path = spec.env["PATH"].split(":")
    assert str(own_home / "bin") in path and str(default_home / "bin") not in path
    assert own_home in spec.read_only and default_home not in spec.read_only
    default = dataclasses.replace(other, name="default")
    spec, _ = auditor._spec(["lean"], default, read_only=[], writable=[], checker=False)
    assert str(default_home / "bin") in spec.env["PATH"].split(":")
