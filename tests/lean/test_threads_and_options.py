"""Issue 20, defects 5 and 6 on the REPL side: every worker gets the thread count in the variable a
compiled Lean program reads (LEAN_NUM_THREADS; the REPL ignores its arguments), a process cap
sized from it, and its environment's option set as `set_option` commands on the header's env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import MATHLIB_OPTIONS, OPTIONS_FILE, load_environment
from proofgate.lean.launch import (
    LEAN_RUNTIMES,
    THREAD_MARGIN,
    LeanReplLauncher,
    lean_environment,
    lean_process_cap,
    process_cap,
    worker_limits,
)
from proofgate.lean.pool import ReplPool
from proofgate.sandbox.group import ProcessGroupSpawner
from tests.standins.repl import standin_launcher


def _project(tmp_path: Path, options: dict[str, Any] | None) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    if options is not None:
        (project / OPTIONS_FILE).write_text(json.dumps(options))
    return project


def test_every_worker_gets_the_thread_count_not_the_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAN_NUM_THREADS", "64")  # the service's own: never passed on
    settings = Settings(data_dir=tmp_path / "d", lean_threads=3)
    env = lean_environment(settings)
    assert env["LEAN_NUM_THREADS"] == "3"


def test_the_repl_gets_no_arguments_it_would_ignore(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", repl_command="/opt/repl", lean_threads=2)
    environment = load_environment("default", _project(tmp_path, MATHLIB_OPTIONS))
    launcher = LeanReplLauncher(settings)
    launcher._installs["default"] = type(
        "Install", (), {"lean": None, "lake": None, "repl_binary": None, "problems": []}
    )()
    spec = launcher.spawn_spec(environment)
    assert spec.argv == ["/opt/repl"]  # REPL/Main.lean: `main (_ : List String)`
    assert spec.env["LEAN_NUM_THREADS"] == "2"


@pytest.mark.parametrize("threads", [1, 2, 40])
def test_caps_are_sized_from_the_thread_count(tmp_path: Path, threads: int) -> None:
    settings = Settings(data_dir=tmp_path / "d", lean_threads=threads, max_processes=16)
    needed = LEAN_RUNTIMES * (threads + THREAD_MARGIN)
    assert lean_process_cap(settings) == needed
    assert process_cap(settings) == max(16, needed) >= threads + THREAD_MARGIN
    assert worker_limits(settings).max_processes == process_cap(settings)


async def _report(tmp_path: Path, options: dict[str, Any] | None, **values: Any) -> Any:
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=_project(tmp_path, options),
        workers=1,
        spare_workers=0,
        request_timeout=10.0,
        import_timeout=10.0,
        queue_wait=10.0,
        **values,
    )
    pool = ReplPool(settings, spawner=ProcessGroupSpawner(), launcher=standin_launcher(settings))
    await pool.start()
    try:
        return await pool.run("import Mathlib\n\n-- standin: report-options\n-- standin: error x")
    finally:
        await pool.close(drain_timeout=2.0)


async def test_the_option_set_and_thread_count_reach_the_repl(tmp_path: Path) -> None:
    run = await _report(tmp_path, MATHLIB_OPTIONS, lean_threads=2)
    info = [m.data for m in run.reply.messages if m.severity == "info"]
    assert info == ["options autoImplicit=false relaxedAutoImplicit=false threads 2"]
    error = next(m for m in run.reply.messages if m.is_error)
    assert (error.pos.line, error.pos.column) == (4, 0)  # the body's own positions


async def test_without_an_option_set_lean_keeps_its_defaults(tmp_path: Path) -> None:
    run = await _report(tmp_path, None)
    info = [m.data for m in run.reply.messages if m.severity == "info"]
    assert info == ["options threads 1"]


async def test_an_option_lean_refuses_stops_the_worker_with_a_config_error(
    tmp_path: Path,
) -> None:
    from proofgate.exceptions import ProofgateError

    with pytest.raises(ProofgateError, match="Unknown option `autoImplicitt`"):
        await _report(tmp_path, {"autoImplicitt": False})
