"""Shared fixtures: settings isolated in tmp, the shared/ test data, the `lean` marker's skip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from proofgate.config import SOURCE_ROOT, Settings
from proofgate.environments.readiness import lean_problems
from proofgate.environments.registry import get_environment
from proofgate.exceptions import ConfigError

# Under CI a skip fails the run, except for `lean`- and `peer`-marked tests (tests/support/ci_gate.py);
# under PROOFGATE_REQUIRE_LEAN=1 a skipped `lean`-marked test fails too (tests/support/lean_gate.py).
pytest_plugins = [
    "tests.support.ci_gate",
    "tests.support.lean_gate",
    "tests.support.standin_guard",
]

# No wall-clock limits on property tests: an example's speed says nothing about its correctness,
# and on a busy 2-core CI machine Hypothesis's 200 ms deadline (and its too-slow health check)
# failed a test that passes.
hypothesis_settings.register_profile(
    "proofgate", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("proofgate")

SHARED_DIR = Path(os.environ.get("PROOFGATE_SHARED_DIR", SOURCE_ROOT.parent / "shared"))
TRANSCRIPTS_DIR = SHARED_DIR / "lean-repl-transcripts"
ADVERSARIAL_CASES = SHARED_DIR / "adversarial" / "cases.jsonl"


#: The environment the `lean` tests that follow it run in (the real-Lean workflow's matrix sets it
#: per preset); read once, at import: an autouse fixture clears PROOFGATE_* during each test.
TEST_ENVIRONMENT = os.environ.get("PROOFGATE_TEST_ENVIRONMENT") or "default"


def _lean_missing_reason() -> str | None:
    """Why the `lean` tests cannot run here: the toolchain, Mathlib, the REPL or the checker."""
    if not (shutil.which("lean") and shutil.which("lake")):
        return "needs a real Lean toolchain (lean/lake not on PATH); run in the real-Lean workflow"
    try:
        settings = Settings()
        problems = lean_problems(settings, get_environment(settings, TEST_ENVIRONMENT))
    except ConfigError as exc:
        problems = [str(exc)]
    if problems:
        return "needs real Lean, Mathlib, the REPL and the trusted checker: " + "; ".join(problems)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _lean_missing_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("lean") is not None:  # not `keywords`: tests/lean/ is one
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own proofgate settings or data."""
    for key in list(os.environ):
        if key.startswith("PROOFGATE_") and key != "PROOFGATE_SHARED_DIR":
            monkeypatch.delenv(key)
    monkeypatch.setenv("PROOFGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROOFGATE_ELAN_HOME", str(tmp_path / "elan"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DIR} (set PROOFGATE_SHARED_DIR)")
    return SHARED_DIR


@pytest.fixture
def lean_dojo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """LeanDojo, imported with its cache in tmp and nothing that would reach GitHub."""
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "lean_dojo_cache"))
    monkeypatch.setenv("DISABLE_REMOTE_CACHE", "1")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("GITHUB_ACCESS_TOKEN", raising=False)
    return pytest.importorskip(
        "lean_dojo", reason="lean_dojo is not installed here (the `dojo` extra)"
    )
