"""Workflows that can fail (issue 20, defect 10): every run step in bash with pipefail, no pipe
into `tee` that could hide its left side's failure, and a job summary naming what did not run.

On GitHub's runners an unspecified shell is `bash -e {0}`: `cmd | tee file` then succeeds whenever
`tee` does. `shell: bash` runs `bash --noprofile --norc -eo pipefail {0}`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proofgate.config import SOURCE_ROOT
from tests.support.subpytest import run_pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

WORKFLOWS = sorted((SOURCE_ROOT / ".github" / "workflows").glob("*.yml"))
SUMMARY_SCRIPT = SOURCE_ROOT / ".github" / "scripts" / "suite_summary.py"

#: `... | tee ...`, not `||` (an or-list).
_PIPE_TO_TEE = re.compile(r"(?<!\|)\|(?!\|)\s*tee\b")
#: What switches the protection off again inside a script, or ignores the pipeline's status.
_UNSAFE = (
    (re.compile(r"set\s+\+o\s+pipefail|set\s+\+\w*e|shopt\s+-u"), "turns -e or pipefail off"),
    (re.compile(r"\|\|\s*(true|:|exit\s+0)\b"), "ignores a failure with `|| true`"),
)


def _run_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(label, step, effective shell) for every run step; step beats job beats workflow."""
    default = (workflow.get("defaults") or {}).get("run", {}).get("shell")
    found = []
    for job_id, job in workflow["jobs"].items():
        job_default = (job.get("defaults") or {}).get("run", {}).get("shell", default)
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                label = f"{job_id}/{step.get('name', index)}"
                found.append((label, step, step.get("shell", job_default)))
    return found


def _fails_fast(shell: str | None) -> bool:
    """`bash` (which GitHub runs with -eo pipefail) or a template that sets both itself."""
    if shell == "bash":
        return True
    return bool(shell) and shell.split()[0] == "bash" and "pipefail" in shell and "-e" in shell


def _problems(workflow: dict[str, Any]) -> list[str]:
    problems = []
    for label, step, shell in _run_steps(workflow):
        if not _fails_fast(shell):
            problems.append(f"{label}: shell {shell!r} has no -e and pipefail; use `shell: bash`")
        script = str(step["run"])
        for number, line in enumerate(script.splitlines(), 1):
            if not _PIPE_TO_TEE.search(line):
                continue
            if step.get("continue-on-error"):
                problems.append(f"{label}: pipes into tee with continue-on-error")
            before = "\n".join(script.splitlines()[:number])
            for pattern, what in _UNSAFE:
                if pattern.search(before) or pattern.search(line):
                    problems.append(f"{label}: pipes into tee but {what}")
            if re.match(r"\s*(if|while|until)\b|.*(&&|\|\|)\s*$", line):
                problems.append(f"{label}: a pipe into tee inside a condition is not checked")
    return problems


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_every_run_step_fails_when_any_command_fails(path: Path) -> None:
    assert _problems(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_every_workflow_says_which_suites_did_not_run(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    for job_id, job in workflow["jobs"].items():
        if not any(
            "pytest" in s.get("run", "") or ".ci/run" in s.get("run", "") for s in job["steps"]
        ):
            continue
        summaries = [
            s
            for s in job["steps"]
            if "suite_summary.py" in s.get("run", "") and "GITHUB_STEP_SUMMARY" in s["run"]
        ]
        assert summaries, f"{job_id}: no step writes the suites that did not run to the summary"
        assert all(str(s.get("if", "")).startswith("always()") for s in summaries), job_id


def test_the_lean_workflow_requires_lean() -> None:
    workflow = yaml.safe_load((SOURCE_ROOT / ".github/workflows/lean.yml").read_text())
    steps = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "pytest -m lean" in step.get("run", "")
    ]
    assert steps and all(s.get("env", {}).get("PROOFGATE_REQUIRE_LEAN") == "1" for s in steps)


def test_the_default_environments_lean_job_can_run_the_console_browser_test() -> None:
    """tests/console/test_console_lean.py runs there: Chromium and a font with Lean's symbols
    installed before the tests (as .ci/run does), Playwright with the `test` extra, and a pytest
    that collects tests/console."""
    workflow = yaml.safe_load((SOURCE_ROOT / ".github/workflows/lean.yml").read_text())
    (job,) = [
        job
        for job in workflow["jobs"].values()
        if "strategy" not in job and any("pytest -m lean" in s.get("run", "") for s in job["steps"])
    ]
    runs = [str(step.get("run", "")) for step in job["steps"]]
    (tests,) = [i for i, run in enumerate(runs) if "pytest -m lean" in run]
    assert "tests/" not in runs[tests] or "tests/console" in runs[tests], runs[tests]
    browser = [i for i, run in enumerate(runs) if "chromium" in run and "fonts-noto-core" in run]
    extra = [i for i, run in enumerate(runs) if "pip install" in run and "[test" in run]
    assert browser and browser[0] < tests and extra and extra[0] < tests
    pyproject = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    test_extra = pyproject["project"]["optional-dependencies"]["test"]
    assert any(requirement.startswith("playwright==") for requirement in test_extra)


# --- the checker itself must catch what it is for -----------------------------------------------

_UNSAFE_WORKFLOWS = {
    "no shell": {"steps": [{"run": "make | tee log"}]},
    "sh": {"steps": [{"run": "true", "shell": "sh"}]},
    "pipefail off": {
        "defaults": {"run": {"shell": "bash"}},
        "steps": [{"run": "set +o pipefail\nmake | tee log"}],
    },
    "or true": {
        "defaults": {"run": {"shell": "bash"}},
        "steps": [{"run": "make | tee log || true"}],
    },
    "in a condition": {
        "defaults": {"run": {"shell": "bash"}},
        "steps": [{"run": "if make | tee log; then echo ok; fi"}],
    },
}


@pytest.mark.parametrize("job", _UNSAFE_WORKFLOWS.values(), ids=list(_UNSAFE_WORKFLOWS))
def test_the_check_catches_a_step_that_cannot_fail(job: dict[str, Any]) -> None:
    assert _problems({"jobs": {"j": {"runs-on": "x", **job}}})


def test_the_check_passes_a_safe_step() -> None:
    job = {"defaults": {"run": {"shell": "bash"}}, "steps": [{"run": "make || echo a || b"}]}
    assert _problems({"jobs": {"j": job}}) == []
    explicit = {"steps": [{"run": "make | tee log", "shell": "bash --noprofile -eo pipefail {0}"}]}
    assert _problems({"jobs": {"j": explicit}}) == []


@pytest.mark.parametrize(("flags", "fails"), [(["-e"], False), (["-eo", "pipefail"], True)])
def test_pipefail_is_what_makes_a_tee_step_fail(
    tmp_path: Path, flags: list[str], fails: bool
) -> None:
    """The runner's two bash invocations, on a failing command piped into tee."""
    script = tmp_path / "step.sh"
    script.write_text(f"false | tee {tmp_path / 'log'}\necho after\n")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", *flags, str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode != 0) is fails and ("after" in done.stdout) is not fails


# --- the job summary ------------------------------------------------------------------------------

_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.lean.test_pool" name="test_a" file="tests/lean/test_pool.py"/>
<testcase classname="tests.lean.test_pool" name="test_b"><skipped type="pytest.skip"
 message="needs a real Lean toolchain">needs a real Lean toolchain</skipped></testcase>
<testcase classname="tests.lean.test_pool" name="test_c"><skipped type="pytest.skip"
 message="needs a real Lean toolchain"/></testcase>
<testcase classname="tests.test_transcripts.TestReplay" name="test_d"><failure message="x"/></testcase>
</testsuite></testsuites>
"""


def _summary(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SUMMARY_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_the_summary_names_what_did_not_run(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(_JUNIT, encoding="utf-8")
    text = _summary("Suite", str(report), "--shared", str(tmp_path / "no-shared"))
    assert text.startswith("### Suite")
    assert "4 collected: 2 ran (1 failed, 0 errors), 2 did not run" in text
    assert "| `tests/lean/test_pool.py` | 2 | needs a real Lean toolchain |" in text
    assert "shared test data: **missing**" in text


def test_the_summary_says_when_the_tests_did_not_run_at_all(tmp_path: Path) -> None:
    text = _summary("Suite", str(tmp_path / "absent.xml"))
    assert "**no test report**" in text


def test_the_summary_of_a_real_pytest_report(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\ndef test_runs():\n    pass\n\n"
        "def test_skips():\n    pytest.skip('no bubblewrap')\n",
        encoding="utf-8",
    )
    report = tmp_path / "junit.xml"
    run_pytest(f"--junitxml={report}", str(tmp_path / "test_sample.py"), cwd=tmp_path)
    text = _summary("Suite", str(report))
    assert "2 collected: 1 ran" in text and "| 1 | no bubblewrap |" in text
