"""Each environment's audit runs its own trusted checker, built with its own Lean (issue 26,
item 3): two environments on different toolchains audited at once each prove with their own
checker, and a checker built with another Lean is refused as Lean refuses an .olean of another
version ("incompatible header"): an internal verdict naming it, never `proved`.

The real API, service, auditor and checker command (`lake env <environment>/.lake/build/bin/
proofgate-checker`, no PROOFGATE_CHECKER_COMMAND); stand-in toolchains whose `lean` compiles as the
stand-in compiler, stamping its version, and whose checker is the stand-in checker "built" with one
Lean (tests/environments/toolchains.py). PROOFGATE_LEAN_HOME is set to `default`'s home throughout.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.environments.toolchains import FakeEnvironment, fake_environment
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
PROOF = "Nat.add_comm a b"


def _check(url: str, environment: str) -> httpx.Response:
    body = {"statement": STATEMENT, "proof": PROOF, "environment": environment}
    return httpx.post(url + "/v1/check", json=body, timeout=60)


def _stack(tmp_path: Path, default: FakeEnvironment) -> Stack:
    # The environments' own commands: `lake env lean` compiles with the environment's toolchain,
    # and the checker is the one built in the environment's directory.
    return make_stack(
        tmp_path,
        project_dir=tmp_path / "project",
        lean_home=default.home,
        workers=2,
        compile_command="lake env lean",
        checker_command=None,
    )


@pytest.mark.timeout(120)
def test_two_toolchains_audited_at_once_each_by_its_own_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes, scenario = tmp_path / "project", tmp_path / "homes", tmp_path / "scenario.json"
    default = fake_environment(
        project, "default", "v4.32.0", homes=homes, checker_scenario=scenario
    )
    old = fake_environment(
        project, "lean_v4_15_0", "v4.15.0", homes=homes, checker_scenario=scenario
    )
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(old.home))
    stack = _stack(tmp_path, default)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        with ThreadPoolExecutor(max_workers=4) as pool:
            names = ["default", "lean_v4_15_0", "default", "lean_v4_15_0"]
            answers = list(pool.map(lambda name: _check(url, name), names))
    for name, answer in zip(names, answers, strict=True):
        assert answer.status_code == 200, answer.text
        verdict = answer.json()
        # `proved` needs the checker's `lean` to equal the pin: each ran its environment's own.
        assert verdict["status"] == "proved", verdict
        expected = "v4.32.0" if name == "default" else "v4.15.0"
        assert (verdict["pins"]["environment"], verdict["pins"]["lean"]) == (name, expected)


@pytest.mark.timeout(120)
def test_a_checker_built_with_another_lean_is_an_internal_error_never_a_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lean_v4_15_0`'s checker was built with v4.32.0 (e.g. default's build copied over): its
    report names another Lean than the pin, so the audit refuses it; the verdict is `internal`,
    naming both versions, while `default` keeps proving."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes, scenario = tmp_path / "project", tmp_path / "homes", tmp_path / "scenario.json"
    default = fake_environment(
        project, "default", "v4.32.0", homes=homes, checker_scenario=scenario
    )
    wrong = fake_environment(
        project,
        "lean_v4_15_0",
        "v4.15.0",
        homes=homes,
        checker_scenario=scenario,
        checker_built_for="v4.32.0",
    )
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(wrong.home))
    stack = _stack(tmp_path, default)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        refused = _check(url, "lean_v4_15_0")
        served = _check(url, "default")
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "internal", refused.json()
    reason = refused.json()["reason"]
    assert "the checker was built with Lean v4.32.0, the environment pins v4.15.0" in reason
    assert served.status_code == 200 and served.json()["status"] == "proved", served.text


@pytest.mark.timeout(60)
def test_the_standin_checker_refuses_an_olean_of_another_lean_as_lean_does(tmp_path: Path) -> None:
    """The stand-in rule behind the test above: a checker built with v4.15.0 given files another
    Lean compiled cannot read them (`readModuleData`'s "incompatible header"): `bad_input`, which
    the verdict logic makes `internal`. Files its own Lean compiled are judged."""
    homes, scenario = tmp_path / "homes", tmp_path / "scenario.json"
    scenario.write_text("{}")
    newer = fake_environment(tmp_path / "p", "default", "v4.32.0", homes=homes)
    older = fake_environment(
        tmp_path / "p", "lean_v4_15_0", "v4.15.0", homes=homes, checker_scenario=scenario
    )
    checker = older.directory / ".lake" / "build" / "bin" / "proofgate-checker"

    def compile_with(env: FakeEnvironment, name: str) -> Path:
        source = tmp_path / name / "ProofgateSubmission.lean"
        source.parent.mkdir()
        source.write_text(STATEMENT.replace("by sorry", PROOF))
        olean = source.with_suffix(".olean")
        argv = [str(env.home / "bin" / "lean"), "-R", str(source.parent), "-o", str(olean)]
        subprocess.run([*argv, str(source)], check=True, timeout=30)
        return olean

    def judge(olean: Path) -> dict[str, object]:
        argv = [str(checker), "--submission", str(olean), "--module-root", "Mathlib"]
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
        report: dict[str, object] = json.loads(done.stdout)
        return report

    foreign = judge(compile_with(newer, "newer"))
    assert foreign["outcome"] == "bad_input" and foreign["lean"] == "v4.15.0"
    assert "incompatible header" in str(foreign["detail"]) and foreign["declarations"] == []
    own = judge(compile_with(older, "older"))
    assert own["outcome"] == "ok" and own["lean"] == "v4.15.0"
