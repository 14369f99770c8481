from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from proofgate.config import Settings, is_loopback_host


def test_defaults_are_loopback_and_strict(settings: Settings) -> None:
    assert settings.host == "127.0.0.1"
    assert settings.policy == "strict"
    assert settings.allowed_axioms == ["propext", "Classical.choice", "Quot.sound"]
    assert settings.api_keys_file == settings.data_dir / "keys.json"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROOFGATE_WORKERS", "3")
    monkeypatch.setenv("PROOFGATE_PREWARM_HEADERS", "import Mathlib, import Lean")
    monkeypatch.setenv("PROOFGATE_ALLOWED_AXIOMS", '["propext"]')
    settings = Settings()
    assert settings.workers == 3
    assert settings.prewarm_headers == ["import Mathlib", "import Lean"]
    assert settings.allowed_axioms == ["propext"]


def test_closers_are_read_like_the_other_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROOFGATE_TRIAGE_CLOSERS", "rfl, decide ,norm_num")
    assert Settings().triage_closers == ["rfl", "decide", "norm_num"]
    monkeypatch.setenv("PROOFGATE_TRIAGE_CLOSERS", '["simp [a, b]", "omega"]')
    assert Settings().triage_closers == ["simp [a, b]", "omega"]


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("PROOFGATE_PORT", "70000", "port"),
        ("PROOFGATE_WORKERS", "0", "workers"),
        ("PROOFGATE_REQUEST_TIMEOUT", "-1", "request_timeout"),
        ("PROOFGATE_SANDBOX", "docker", "sandbox"),
        ("PROOFGATE_REPL_COMMAND", "  ", "repl_command"),
    ],
)
def test_bad_values_name_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert field in {str(error["loc"][0]) for error in info.value.errors()}


def test_cli_reports_bad_setting_by_variable_name() -> None:
    env = {"PROOFGATE_PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "PROOFGATE_PORT" in done.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("example", False),
    ],
)
def test_is_loopback_host_is_the_one_test_of_a_bind_address(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_batch_items_at_once_is_the_setting_or_twice_the_workers(settings: Settings) -> None:
    assert settings.model_copy(update={"workers": 3}).batch_items_at_once == 6
    configured = settings.model_copy(update={"workers": 3, "batch_concurrency": 5})
    assert configured.batch_items_at_once == 5
