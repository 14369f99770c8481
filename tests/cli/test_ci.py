"""`proofgate ci` on the command line: options, outputs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from proofgate.backends import SERVER_CONCURRENCY
from proofgate.ci.manifest import MANIFEST_NAME, load_manifest
from proofgate.ci.results import CiReport
from proofgate.ci.runner import run_ci
from proofgate.cli import app
from tests.ci.conftest import BASIC, EXTRA, Repo
from tests.support.server import free_port


@pytest.fixture
def cli_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A locked fixture repository whose checks go to the fake checker."""
    repo = Repo(root=tmp_path / "repo")
    repo.write("Demo/Basic.lean", BASIC)
    repo.write("Demo/Extra.lean", EXTRA)
    repo.lock()
    monkeypatch.setattr(
        "proofgate.cli.ci.open_checker", lambda settings, server: repo.open_checker()
    )
    monkeypatch.chdir(repo.root)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return repo


def invoke(*args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return CliRunner().invoke(app, ["ci", *args], env=env)


def test_lock_writes_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(root=tmp_path / "r")
    repo.write("A.lean", "theorem a : True := trivial\n\ntheorem b : 1 = 1 := rfl\n")
    result = invoke(str(repo.root), "--lock")
    assert result.exit_code == 0, result.output
    assert [e.theorem for e in load_manifest(repo.root / MANIFEST_NAME).locked] == ["a", "b"]


def test_clean_repository_exits_0_and_writes_every_report(cli_repo: Repo, tmp_path: Path) -> None:
    junit, sarif = tmp_path / "out/junit.xml", tmp_path / "out/results.sarif"
    result = invoke(".", "--no-build", "--junit", str(junit), "--sarif", str(sarif), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["summary"] == {"total": 4, "passed": 4, "failed": 0, "errors": 0, "cached": 0}
    assert ET.parse(junit).getroot().get("tests") == "4"
    assert json.loads(sarif.read_text())["runs"][0]["results"] == []


def test_failure_exits_1_with_annotations_in_actions(cli_repo: Repo) -> None:
    cli_repo.apply("sorry")
    result = invoke(".", "--no-build", "--json", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    json.loads(result.stdout)  # stdout stays pure JSON
    assert (
        "::error file=Demo/Basic.lean,line=6,col=3,title=proofgate%3A incomplete::" in result.stderr
    )
    assert "FAIL Demo/Basic.lean:6:3 [incomplete]" in result.stderr


def test_no_annotations_outside_actions(cli_repo: Repo) -> None:
    cli_repo.apply("sorry")
    result = invoke(".", "--no-build")
    assert result.exit_code == 1 and "::error" not in result.output


def test_usage_errors_exit_2(cli_repo: Repo) -> None:
    assert invoke("does-not-exist").exit_code == 2
    (cli_repo.root / MANIFEST_NAME).write_text("version = 7\n")
    result = invoke(".", "--no-build")
    assert result.exit_code == 2 and "version" in result.output


def test_without_lean_the_local_service_is_an_infrastructure_failure(tmp_path: Path) -> None:
    """The real CLI and the real (unready) service: no toolchain here, so exit 3, naming the fix."""
    repo = Repo(root=tmp_path / "repo")
    repo.write("Demo/Extra.lean", EXTRA)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    run = subprocess.run(
        [sys.executable, "-m", "proofgate", "ci", str(repo.root), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 3, run.stderr
    document = json.loads(run.stdout)
    assert document["results"][0]["status"] == "not_checked"
    assert "proofgate doctor" in document["results"][0]["message"]
    assert any("build skipped" in note for note in document["notes"])


def test_an_unreachable_server_is_an_infrastructure_failure(tmp_path: Path) -> None:
    repo = Repo(root=tmp_path / "repo")
    repo.write("Demo/Extra.lean", EXTRA)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "proofgate",
            "ci",
            str(repo.root),
            "--no-build",
            "--server",
            url,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3, run.stderr
    assert "cannot reach proofgate" in json.loads(run.stdout)["results"][0]["message"]


def test_a_server_is_sent_the_one_default_concurrency(
    cli_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --server, ci keeps backends.SERVER_CONCURRENCY checks in flight (as batch does)."""
    asked: list[int] = []

    async def recording(*args: Any, concurrency: int, **kwargs: Any) -> CiReport:
        asked.append(concurrency)
        return await run_ci(*args, concurrency=concurrency, **kwargs)

    monkeypatch.setattr("proofgate.cli.ci.run_ci", recording)
    result = invoke(".", "--no-build", "--json", "--server", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 0, result.output
    assert asked == [SERVER_CONCURRENCY]
