"""`proofgate ci` through the real CheckerService: policy, the REPL pool on the simulated REPL, the
trusted audit on the stand-in compiler and checker, the result cache (tests/support/stack.py)."""

from __future__ import annotations

from pathlib import Path

from proofgate.ci.results import Outcome
from proofgate.ci.runner import run_ci
from tests.ci.conftest import Repo
from tests.support.stack import Stack, make_stack, running_service


def stack_in(tmp_path: Path) -> Stack:
    directory = tmp_path / "stack"
    directory.mkdir()
    return make_stack(directory)


async def run(repo: Repo, stack: Stack):  # noqa: ANN201
    return await run_ci(repo.root, lambda: running_service(stack), build=False, base=repo.root)


async def test_clean_repository_is_proved_then_answered_from_the_cache(
    repo: Repo, tmp_path: Path
) -> None:
    stack = stack_in(tmp_path)
    first = await run(repo, stack)
    assert first.exit_code == 0, [(r.theorem, r.status, r.message) for r in first.results]
    assert {r.status for r in first.results} == {"proved"} and len(first.results) == 4
    assert not any(r.cached for r in first.results)
    repo.edit("Demo/Extra.lean", "trivial", "by trivial")
    second = await run(repo, stack)  # a new service on the same data directory: the SQLite cache
    assert second.exit_code == 0
    cached = {r.theorem for r in second.results if r.cached}
    assert cached == {"Demo.add_zero_right", "Demo.two_eq", "Demo.small"}


async def test_a_lean_error_fails_its_file_at_the_line(repo: Repo, tmp_path: Path) -> None:
    repo.edit(
        "Demo/Extra.lean",
        "theorem extra_true : True := trivial",
        "theorem extra_true : True := by\n  -- standin: error unknown identifier 'foo'\n  exact foo",
    )
    report = await run(repo, stack_in(tmp_path))
    assert report.exit_code == 1
    failed = [r for r in report.results if r.outcome is Outcome.failed]
    assert [(r.file, r.theorem, r.status) for r in failed] == [
        ("Demo/Extra.lean", "extra_true", "failed")
    ]
    assert 1 <= failed[0].line <= 3
    assert "unknown identifier" in failed[0].message
    assert {r.status for r in report.results if r.file == "Demo/Basic.lean"} == {"proved"}


async def test_sorry_reached_by_a_target_is_incomplete(repo: Repo, tmp_path: Path) -> None:
    stack = stack_in(tmp_path)
    stack.scenario(axioms=["propext", "sorryAx"])
    report = await run(repo, stack)
    assert report.exit_code == 1
    assert {r.status for r in report.results} == {"incomplete"}
    basic = {r.theorem: r.line for r in report.results if r.file == "Demo/Basic.lean"}
    assert basic == {"Demo.add_zero_right": 5, "Demo.two_eq": 8, "Demo.small": 10}


async def test_a_changed_statement_never_reaches_the_service(repo: Repo, tmp_path: Path) -> None:
    repo.apply("changed_statement")
    report = await run(repo, stack_in(tmp_path))
    statuses = {r.theorem: r.status for r in report.results}
    assert statuses["Demo.add_zero_right"] == "statement_changed"
    assert {s for t, s in statuses.items() if t != "Demo.add_zero_right"} == {"proved"}


def test_the_cli_against_a_real_server_on_the_stand_in_stack(repo: Repo, tmp_path: Path) -> None:
    """`proofgate ci --server` (a subprocess) against uvicorn serving the wired service."""
    import json
    import subprocess
    import sys

    from proofgate.api.app import create_app
    from tests.support.stack import uvicorn_app

    stack = stack_in(tmp_path)
    stack.scenario(axioms=["propext", "sorryAx"])
    with uvicorn_app(create_app(stack.settings, service=stack.service())) as url:
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
                "--sarif",
                str(tmp_path / "out.sarif"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=repo.root,
        )
    document = json.loads(run.stdout)
    assert run.returncode == 1, (run.stderr, document["results"])
    assert {r["status"] for r in document["results"]} == {"incomplete"}
    assert all(r["verdict"]["pins"]["lean"] == "v4.32.0" for r in document["results"])
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    located = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif["runs"][0]["results"]
    }
    assert located == {
        ("Demo/Basic.lean", 5),
        ("Demo/Basic.lean", 8),
        ("Demo/Basic.lean", 10),
        ("Demo/Extra.lean", 1),
    }
