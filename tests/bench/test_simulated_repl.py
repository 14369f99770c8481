"""The simulated REPL's own input handling, as a subprocess, against the real REPL's rules."""

from __future__ import annotations

import json
import subprocess
import sys

from proofgate.bench.simulated_repl import SCRIPT, split_transcript_commands


def _run(stdin: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, *options],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def _values(stdout: str) -> list[object]:
    assert stdout.endswith("\n\n") or stdout == ""
    return [json.loads(chunk) for chunk in stdout.split("\n\n") if chunk.strip()]


def test_lines_are_joined_until_a_blank_line_with_ends_trimmed() -> None:
    stdin = '{"cmd":   \n  "def f := 1",   \n "env": null}\n\n{"cmd": "def g :=\n 2"}\n'
    result = _run(stdin)
    assert result.returncode == 0, result.stderr
    assert _values(result.stdout) == [{"env": 0}, {"env": 1}]


def test_comment_queries_are_skipped() -> None:
    result = _run('# a note\n\n-- another\n\n{"cmd": "def f := 1"}\n\n')
    assert result.returncode == 0 and _values(result.stdout) == [{"env": 0}]


def test_malformed_json_exits_with_an_uncaught_error() -> None:
    result = _run('{"cmd": "def f := 1"}\n\n{"cmd": oops}\n\n{"cmd": "never run"}\n\n')
    assert result.returncode == 1
    assert _values(result.stdout) == [{"env": 0}]
    assert result.stderr.startswith('uncaught exception: {"message": "Could not parse JSON:')


def test_a_stray_blank_line_is_an_empty_query_and_kills_it() -> None:
    result = _run('{"cmd": "def f := 1"}\n\n\n{"cmd": "def g := 2"}\n\n')
    assert result.returncode == 1 and _values(result.stdout) == [{"env": 0}]


def test_an_unknown_command_exits() -> None:
    result = _run('{"frobnicate": 1}\n\n')
    assert result.returncode == 1 and "not parse as a valid JSON command" in result.stderr


def test_runs_as_a_module_too() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proofgate.bench.simulated_repl", "--import-seconds", "0"],
        input='{"cmd": "import Mathlib"}\n\n{"cmd": "x", "env": 3}\n\n',
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert _values(result.stdout) == [{"env": 0}, {"message": "Unknown environment."}]


def test_transcript_commands_split_like_the_repl_reads_them() -> None:
    text = '{"cmd": "a"}\n\n{"cmd":\n "b"}\n\n\n# skipped\n\n{"tactic": "rfl", "proofState": 0}'
    assert split_transcript_commands(text) == [
        '{"cmd": "a"}\n',
        '{"cmd": "b"}\n',
        '{"tactic": "rfl", "proofState": 0}',
    ]


def test_replay_refuses_a_command_that_is_not_the_recorded_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    transcript = tmp_path / "t.in"
    transcript.write_text('{"cmd": "def f := 1"}\n\n{"cmd": "def g := 2"}\n')
    (tmp_path / "t.expected.out").write_text('{"env": 0}\n\n{"env": 1}\n\n')
    ok = _run('{"cmd": "def f := 1"}\n\n{"cmd": "def g := 2"}\n\n', "--replay", str(transcript))
    assert ok.returncode == 0 and _values(ok.stdout) == [{"env": 0}, {"env": 1}]
    wrong = _run('{"cmd": "def f := 1"}\n\n{"cmd": "def h := 3"}\n\n', "--replay", str(transcript))
    assert wrong.returncode == 2 and "command 1 is not the recorded one" in wrong.stderr


def test_an_unknown_module_is_found_behind_import_modifiers() -> None:
    """`import all M` imports M, as Lean reads it: the stand-in must not take `all` for a module."""
    commands = '{"cmd": "import all Standin.Missing.Foo"}\n\n{"cmd": "import Mathlib"}\n\n'
    first, second = _values(_run(commands, "--import-seconds", "0").stdout)
    assert [m["data"] for m in first["messages"]] == ["unknown module prefix 'Standin.Missing.Foo'"]
    assert "messages" not in second
