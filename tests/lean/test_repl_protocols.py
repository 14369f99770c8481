"""The driver on each REPL protocol variant (issue 26, item 4): the stand-in speaks v4.9.0,
v4.15.0, v4.26.0 and v4.32.0 (`--protocol`), and the driver copes with each: v4.9.0's unflushed
replies arrive once the launcher runs it line-buffered, missing fields read as none, and an option
the REPL lacks is refused before it is sent. Untested against real Lean."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import discover_environments
from proofgate.exceptions import ReplCommandError, ReplTimeout
from proofgate.lean.launch import LeanReplLauncher
from proofgate.lean.protocol import CURRENT, protocol_for
from proofgate.lean.repl import ReplProcess
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits
from tests.environments.toolchains import fake_environment
from tests.standins.repl import standin_spec

STDBUF = shutil.which("stdbuf")
needs_stdbuf = pytest.mark.skipif(STDBUF is None, reason="coreutils' stdbuf is not installed")


def test_each_tag_has_the_features_its_sources_show() -> None:
    old, middle, recent = protocol_for("v4.9.0"), protocol_for("v4.15.0"), protocol_for("v4.26.0")
    assert not (old.flushes or old.used_constants or old.proof_status or old.root_goals)
    assert not old.file_env
    assert middle.flushes and middle.used_constants
    assert not (middle.proof_status or middle.root_goals or middle.file_env)
    assert replace(recent, version=CURRENT.version, ascii_trim=True) == CURRENT
    assert not recent.ascii_trim
    assert protocol_for("v4.10.0").flushes and not protocol_for("v4.10.0-rc1").flushes
    assert protocol_for("main") == CURRENT and protocol_for(None) == CURRENT


async def _start(tmp_path: Path, version: str, *, prefix: tuple[str, ...] = ()) -> ReplProcess:
    spec = standin_spec(tmp_path, "--protocol", version)
    spec = replace(spec, argv=[*prefix, *spec.argv])
    return await ReplProcess.start(
        Launch(ProcessGroupSpawner(), spec, Limits()), protocol=protocol_for(version)
    )


async def test_an_unflushed_reply_never_arrives_on_a_plain_pipe(tmp_path: Path) -> None:
    """What a v4.9.0 REPL does on a pipe: the reply sits in its stdout buffer (the problem)."""
    repl = await _start(tmp_path, "v4.9.0")
    try:
        with pytest.raises(ReplTimeout):
            await repl.command("import Mathlib", timeout=1.0)
    finally:
        await repl.close()


@needs_stdbuf
async def test_line_buffered_the_v4_9_0_stand_in_answers_every_reply(tmp_path: Path) -> None:
    assert STDBUF is not None
    repl = await _start(tmp_path, "v4.9.0", prefix=(STDBUF, "-oL"))
    try:
        assert (await repl.command("import Mathlib", timeout=10)).env == 0
        reply = await repl.command("theorem t : True := by\n  -- standin: sorry", env=0, timeout=10)
        assert reply.env == 1 and len(reply.sorries) == 1
        step = await repl.tactic("trivial", 0, timeout=10)
        assert step.proof_state == 1 and step.proof_status is None  # v4.9.0 prints none
    finally:
        await repl.close()


@pytest.mark.parametrize(
    ("version", "status"),
    [("v4.15.0", None), ("v4.26.0", "Completed"), ("v4.32.0", "Completed")],
)
async def test_proof_status_is_read_where_the_version_prints_it(
    tmp_path: Path, version: str, status: str | None
) -> None:
    repl = await _start(tmp_path, version)
    try:
        await repl.command("theorem t : True := by\n  -- standin: sorry", timeout=10)
        assert (await repl.tactic("trivial", 0, timeout=10)).proof_status == status
    finally:
        await repl.close()


@pytest.mark.parametrize("version", ["v4.9.0", "v4.15.0"])
async def test_root_goals_is_refused_where_the_repl_would_ignore_it(
    tmp_path: Path, version: str
) -> None:
    repl = await _start(tmp_path, version, prefix=(STDBUF, "-oL") if STDBUF else ())
    try:
        with pytest.raises(ReplCommandError, match=rf"REPL {version} has no rootGoals"):
            await repl.command("theorem t : True := trivial", root_goals=True, timeout=10)
        assert repl.commands_sent == 0 and repl.alive  # nothing was sent
        with pytest.raises(ReplCommandError, match="env in file mode"):
            await repl.send({"path": "A.lean", "env": 0}, timeout=10)
    finally:
        await repl.close()


async def test_root_goals_is_sent_to_a_repl_that_has_it(tmp_path: Path) -> None:
    repl = await _start(tmp_path, "v4.26.0")
    try:
        reply = await repl.command("theorem t : True := trivial", root_goals=True, timeout=10)
        assert reply.env == 0 and repl.commands_sent == 1
    finally:
        await repl.close()


@needs_stdbuf
def test_the_launcher_runs_a_repl_that_never_flushes_line_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    default = fake_environment(project, "default", "v4.32.0", homes=homes)
    old = fake_environment(project, "lean_v4_9_0", "v4.9.0", homes=homes)
    recent = fake_environment(project, "lean_v4_15_0", "v4.15.0", homes=homes)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_9_0", str(old.home))
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(recent.home))
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        project_dir=project,
        lean_home=default.home,
    )
    environments = discover_environments(settings)
    assert environments["lean_v4_9_0"].repl_version == "v4.9.0"
    launcher = LeanReplLauncher(settings)
    argv = launcher.spawn_spec(environments["lean_v4_9_0"]).argv
    assert argv[1:4] == ["env", STDBUF, "-oL"]
    assert STDBUF not in launcher.spawn_spec(environments["lean_v4_15_0"]).argv
    assert STDBUF not in launcher.spawn_spec(environments["default"]).argv
