"""Issue 20, defects 5 and 6 in the audit: both compiles get `-j N` and the environment's `-D`
options, Lake and the checkers LEAN_NUM_THREADS, every jail a cap sized from the thread count,
and the reference cache key the option set."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from proofgate.config import Settings
from proofgate.environments.registry import MATHLIB_OPTIONS, Environment
from proofgate.lean.launch import lean_process_cap, process_cap
from proofgate.sandbox.process import Limits, Spawner, SpawnSpec
from proofgate.verify.audit import Auditor, AuditRequest
from proofgate.verify.contract import AuditOutcome, CompileFailure
from tests.standins.runner import LocalResult, NoSpawner, local_runner

STANDINS = Path(__file__).resolve().parents[1] / "standins"
STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
CODE = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
ALLOWED = ("propext", "Classical.choice", "Quot.sound")


def _environment(tmp_path: Path, options: dict[str, Any]) -> Environment:
    directory = tmp_path / "project"
    directory.mkdir(exist_ok=True)
    return Environment(
        name="default",
        directory=directory,
        toolchain="leanprover/lean4:v4.32.0",
        packages={"mathlib": "81a5d257", "REPL": "abc"},
        lean_options=dict(options),
    )


class Recorder:
    """`local_runner`, noting each run's argv, environment and limits."""

    def __init__(self) -> None:
        self.runs: list[tuple[SpawnSpec, Limits]] = []

    async def __call__(
        self, spawner: Spawner, spec: SpawnSpec, limits: Limits, **kwargs: Any
    ) -> LocalResult:
        self.runs.append((spec, limits))
        return await local_runner(spawner, spec, limits, **kwargs)


def _auditor(tmp_path: Path, **values: Any) -> tuple[Auditor, Recorder, Path]:
    scenario, log = tmp_path / "scenario.json", tmp_path / "checker.json"
    scenario.write_text(json.dumps({"argv_log": str(log)}))
    leanchecker = tmp_path / "leanchecker-scenario.json"
    leanchecker.write_text("{}")
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        audit_timeout=10.0,
        compile_command=f"{sys.executable} {STANDINS / 'compiler.py'}",
        checker_command=f"{sys.executable} {STANDINS / 'checker.py'} {scenario}",
        leanchecker=True,
        leanchecker_command=f"{sys.executable} {STANDINS / 'leanchecker.py'} {leanchecker}",
        **values,
    )
    recorder = Recorder()
    return Auditor(settings, runner=recorder, spawner=NoSpawner()), recorder, log


def _request(environment: Environment, statement: str | None = STATEMENT) -> AuditRequest:
    return AuditRequest(
        environment=environment,
        statement=statement,
        code=CODE,
        target="t1" if statement else None,
        allowed_axioms=ALLOWED,
    )


async def test_every_process_gets_the_thread_count_and_a_cap_sized_from_it(
    tmp_path: Path,
) -> None:
    auditor, recorder, log = _auditor(tmp_path, lean_threads=3, max_processes=4)
    report = await auditor.audit(_request(_environment(tmp_path, {})))
    assert not isinstance(report, CompileFailure) and report.outcome is AuditOutcome.ok
    compiles = [(s, lim) for s, lim in recorder.runs if "compiler.py" in " ".join(s.argv)]
    others = [(s, lim) for s, lim in recorder.runs if "compiler.py" not in " ".join(s.argv)]
    assert len(compiles) == 2 and len(others) == 2  # statement, submission; checker, leanchecker
    settings = auditor.settings
    for spec, limits in compiles:
        assert spec.argv[spec.argv.index("-j") + 1] == "3"
        assert limits.max_processes == process_cap(settings) >= 3
    for spec, _ in recorder.runs:
        assert spec.env["LEAN_NUM_THREADS"] == "3"  # Lake and the compiled checkers read it
    for _, limits in others:
        assert limits.max_processes == lean_process_cap(settings) > 3
    recorded = json.loads(log.read_text())["compiled"]
    assert recorded["submission"]["threads"] == recorded["challenge"]["threads"] == 3


async def test_the_option_set_reaches_both_compiles(tmp_path: Path) -> None:
    auditor, _, log = _auditor(tmp_path)
    report = await auditor.audit(_request(_environment(tmp_path, MATHLIB_OPTIONS)))
    assert not isinstance(report, CompileFailure) and report.outcome is AuditOutcome.ok
    recorded = json.loads(log.read_text())["compiled"]
    assert recorded["submission"]["options"] == MATHLIB_OPTIONS
    assert recorded["challenge"]["options"] == MATHLIB_OPTIONS


async def test_lean_defaults_pass_no_option(tmp_path: Path) -> None:
    auditor, recorder, log = _auditor(tmp_path)
    await auditor.audit(_request(_environment(tmp_path, {})))
    assert not any(a.startswith("-D") for spec, _ in recorder.runs for a in spec.argv)
    assert json.loads(log.read_text())["compiled"]["submission"]["options"] == {}


async def test_an_option_lean_does_not_know_fails_the_compile_as_lean_does(tmp_path: Path) -> None:
    auditor, _, _ = _auditor(tmp_path)
    failure = await auditor.audit(_request(_environment(tmp_path, {"autoImplict": False}), None))
    assert isinstance(failure, CompileFailure)
    assert any("unknown configuration option 'autoImplict'" in m for m in failure.messages)


def test_the_reference_key_includes_the_option_set(tmp_path: Path) -> None:
    auditor, _, _ = _auditor(tmp_path)
    plain = _environment(tmp_path, {})
    mathlib = dataclasses.replace(plain, lean_options=dict(MATHLIB_OPTIONS))
    assert auditor.reference_key(plain, STATEMENT) != auditor.reference_key(mathlib, STATEMENT)
