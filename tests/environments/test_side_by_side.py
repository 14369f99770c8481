"""Three environments on three Lean versions served at once by one service (issue 26): each
request reaches its own environment's toolchain and REPL, one whose toolchain is absent is 503
naming it while the others serve, and `/v1/environments` and `/readyz` say which is ready.

The real launcher, version check, pool and API; stand-in toolchains (tests/environments/toolchains.py)
whose REPL is the stand-in REPL; the stand-in compiler and checker for the audit. PROOFGATE_LEAN_HOME
is set throughout (to `default`'s toolchain), the case that broke every other environment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.environments.toolchains import fake_environment
from tests.support.live_app import run_app
from tests.support.stack import make_stack

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
PROOF = "Nat.add_comm a b"


def _check(url: str, environment: str) -> httpx.Response:
    body = {"statement": STATEMENT, "proof": PROOF, "environment": environment}
    return httpx.post(url + "/v1/check", json=body, timeout=30)


@pytest.mark.timeout(120)
def test_three_versions_at_once_and_an_absent_one_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    default = fake_environment(project, "default", "v4.32.0", homes=homes)
    middle = fake_environment(project, "lean_v4_15_0", "v4.15.0", homes=homes)
    fake_environment(project, "lean_v4_26_0", "v4.26.0", homes=homes)
    fake_environment(project, "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_15_0", str(middle.home))
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_26_0", str(homes / "lean_v4_26_0"))
    stack = make_stack(tmp_path, project_dir=project, lean_home=default.home, workers=3)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        for name, version in (
            ("default", "v4.32.0"),
            ("lean_v4_15_0", "v4.15.0"),
            ("lean_v4_26_0", "v4.26.0"),
        ):
            # The stand-in checker reports the Lean it was built with: each environment's own.
            stack.scenario(report={"lean": version})
            answer = _check(url, name)
            assert answer.status_code == 200, answer.text
            verdict = answer.json()
            assert verdict["status"] == "proved", verdict
            assert (verdict["pins"]["environment"], verdict["pins"]["lean"]) == (name, version)
        refused = _check(url, "lean_v4_9_0")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "lean_unavailable"
        assert "'lean_v4_9_0'" in refused.json()["reason"]
        assert "Lean toolchain v4.9.0 not found" in refused.json()["reason"]
        stack.scenario(report={"lean": "v4.32.0"})
        again = _check(url, "default")  # still serving after the refusal (cached: a new request)
        assert again.status_code == 200 and again.json()["status"] == "proved"

        listed = {e["name"]: e for e in httpx.get(url + "/v1/environments", timeout=30).json()}
        readyz = httpx.get(url + "/readyz", timeout=30)
    assert {name: entry["ready"] for name, entry in listed.items()} == {
        "default": True,
        "lean_v4_15_0": True,
        "lean_v4_26_0": True,
        "lean_v4_9_0": False,
    }
    assert listed["lean_v4_15_0"]["lean_found"] == "v4.15.0"
    assert listed["lean_v4_9_0"]["lean_found"] is None
    assert any("PROOFGATE_LEAN_HOME__LEAN_V4_9_0" in p for p in listed["lean_v4_9_0"]["problems"])
    # /readyz follows default (ready) and lists the others, the absent one unready.
    assert readyz.status_code == 200 and readyz.json()["ready"] is True
    environments = readyz.json()["environments"]
    assert environments["lean_v4_9_0"]["ready"] is False
    assert environments["lean_v4_26_0"] == {
        "ready": True,
        "lean": "v4.26.0",
        "lean_found": "v4.26.0",
        "mathlib": "0" * 40,
        "problems": [],
    }


@pytest.mark.timeout(60)
def test_an_unready_default_is_unready_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service refuses every request while `default` is not ready, so /readyz says no other
    environment is ready either, even one whose own toolchain is there."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    fake_environment(project, "default", "v4.32.0", homes=homes, installed=False)
    other = fake_environment(project, "lean_v4_26_0", "v4.26.0", homes=homes)
    monkeypatch.setenv("PROOFGATE_LEAN_HOME__LEAN_V4_26_0", str(other.home))
    stack = make_stack(tmp_path, project_dir=project)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        readyz = httpx.get(url + "/readyz", timeout=30)
    assert readyz.status_code == 503
    environments = readyz.json()["environments"]
    assert environments["default"]["ready"] is False
    assert environments["default"]["problems"] == readyz.json()["reasons"]
    assert environments["lean_v4_26_0"]["ready"] is False
    assert environments["lean_v4_26_0"]["lean_found"] == "v4.26.0"


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("stdbuf") is None, reason="coreutils' stdbuf is not installed")
def test_each_environments_repl_speaks_its_own_protocol_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four REPL protocol variants at once, v4.9.0's unflushed replies among them: each
    environment's stand-in REPL speaks its tag's variant and every request is proved."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    versions = {"lean_v4_9_0": "v4.9.0", "lean_v4_15_0": "v4.15.0", "lean_v4_26_0": "v4.26.0"}
    default = fake_environment(
        project, "default", "v4.32.0", homes=homes, repl_options=("--protocol", "v4.32.0")
    )
    for name, version in versions.items():
        fake_environment(project, name, version, homes=homes, repl_options=("--protocol", version))
        monkeypatch.setenv(f"PROOFGATE_LEAN_HOME__{name.upper()}", str(homes / name))
    stack = make_stack(tmp_path, project_dir=project, lean_home=default.home, workers=4)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        for name, version in [*versions.items(), ("default", "v4.32.0")]:
            stack.scenario(report={"lean": version})
            answer = _check(url, name)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "proved", answer.json()
            assert answer.json()["pins"]["lean"] == version
