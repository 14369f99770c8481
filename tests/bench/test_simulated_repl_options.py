"""The simulated REPL takes options and threads as the real one does (REPL/Main.lean, Frontend.lean):
no arguments, `set_option` commands that an env keeps, LEAN_NUM_THREADS."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from proofgate.bench.simulated_repl import SCRIPT


def _run(queries: list[dict[str, object]], *args: str, threads: str | None = "1") -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "LEAN_NUM_THREADS"}
    if threads is not None:
        env["LEAN_NUM_THREADS"] = threads
    stdin = "".join(json.dumps(q) + "\n\n" for q in queries)
    done = subprocess.run(
        [sys.executable, SCRIPT, *args], input=stdin, capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        return [f"exit {done.returncode}"]
    replies = [json.loads(r) for r in done.stdout.split("\n\n") if r.strip()]
    return [m["data"] for r in replies for m in r.get("messages", [])]


def test_arguments_are_ignored_and_set_option_persists_in_the_env() -> None:
    messages = _run(
        [
            {"cmd": "import Mathlib"},
            {"cmd": "set_option autoImplicit false", "env": 0},
            {"cmd": "-- standin: report-options", "env": 1},
            {"cmd": "-- standin: report-options", "env": 0},
        ],
        "-DautoImplicit=false",  # the real REPL ignores it: options do not come this way
    )
    assert messages == ["options autoImplicit=false threads 1", "options threads 1"]


def test_an_unknown_option_or_a_wrong_value_is_an_error() -> None:
    messages = _run(
        [{"cmd": "set_option autoImplicitt false\nset_option autoImplicit 3"}], threads=None
    )
    assert messages == ["Unknown option `autoImplicitt`", "type mismatch at set_option"]


def test_a_zero_thread_count_leaves_lean_without_a_task_manager() -> None:
    assert _run([{"cmd": "theorem t : True := trivial"}], threads="0") == ["exit 134"]
