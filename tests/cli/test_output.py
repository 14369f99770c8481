"""What the CLI writes where (issue 30, defect 7): for people, quiet unless -v, no raw JSON log
before the friendly error, lines not cut at 80 columns off a terminal, plain `--help`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _proofgate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a person's shell runs it, its output a pipe (no terminal, no COLUMNS)."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("COLUMNS", "PROOFGATE_LOG_LEVEL", "PROOFGATE_LOG_JSON")
    }
    environ.update(
        PROOFGATE_DATA_DIR=str(tmp_path / "data"),
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_LEAN_HOME=str(tmp_path / "no-lean"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "proofgate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=environ,
        stdin=subprocess.DEVNULL,
    )


def _no_json_lines(stream: str) -> None:
    assert not [line for line in stream.splitlines() if line.lstrip().startswith("{")], stream


def test_a_local_check_without_lean_says_only_the_friendly_error(tmp_path: Path) -> None:
    (tmp_path / "A.lean").write_text("theorem a : 1 = 1 := rfl\n")
    done = _proofgate(tmp_path, "check", "A.lean")
    assert done.returncode == 3, done.stderr
    _no_json_lines(done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot verify: "), done.stderr
    assert "run `proofgate setup`" in lines[0] and lines[0].rstrip().endswith("`proofgate setup`")


def test_verbose_logs_plain_lines_for_people(tmp_path: Path) -> None:
    (tmp_path / "A.lean").write_text("theorem a : 1 = 1 := rfl\n")
    done = _proofgate(tmp_path, "-v", "check", "A.lean")
    assert done.returncode == 3
    _no_json_lines(done.stderr)
    assert any(line.startswith("warning: not_ready reasons=") for line in done.stderr.splitlines())
    assert done.stderr.splitlines()[-1].startswith("error: cannot verify: ")


def test_an_explicit_json_setting_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "A.lean").write_text("theorem a : 1 = 1 := rfl\n")
    done = _proofgate(
        tmp_path, "check", "A.lean", PROOFGATE_LOG_LEVEL="warning", PROOFGATE_LOG_JSON="true"
    )
    assert done.stderr.splitlines()[0].startswith('{"reasons"'), done.stderr


def test_off_a_terminal_panels_and_messages_are_not_cut_at_80_columns(tmp_path: Path) -> None:
    name = "a_name_long_enough_to_take_the_line_well_past_eighty_columns_of_any_terminal"
    (tmp_path / "Refused.lean").write_text(f"def {name} : Nat := 1\n#eval IO.Process.exit 0\n")
    done = _proofgate(tmp_path, "check", "Refused.lean")
    assert done.returncode == 1, done.stderr
    assert "error[policy]" in done.stdout
    whole = [line for line in done.stdout.splitlines() if "error[policy]: [eval]" in line]
    assert whole and all("decide`)" in line for line in whole), done.stdout  # not cut
    assert any(name in line and line.startswith("│") for line in done.stdout.splitlines())
    missing = tmp_path / ("d" * 90) / "Missing.lean"
    gone = _proofgate(tmp_path, "lint", str(missing))
    assert f"cannot read file {missing}: it does not exist" in gone.stderr, gone.stderr


@pytest.mark.parametrize("command", [[], ["check"], ["lint"], ["bench"], ["ci"]])
def test_help_names_parameters_as_click_does(tmp_path: Path, command: list[str]) -> None:
    done = _proofgate(tmp_path, *command, "--help")
    assert done.returncode == 0, done.stderr
    assert "<bool>" not in done.stdout and "{file}" not in done.stdout, done.stdout
    if command in (["check"], ["lint"]):
        assert f"{command[0]} [OPTIONS] FILE" in done.stdout, done.stdout
