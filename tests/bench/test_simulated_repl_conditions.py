"""The simulated REPL's conditional markers (`with WORD` / `without WORD`), which triage tests use
to script which probes close."""

from __future__ import annotations

import json
import subprocess
import sys

from proofgate.bench.simulated_repl import SCRIPT


def _replies(*codes: str) -> list[dict[str, object]]:
    stdin = "".join(json.dumps({"cmd": code}) + "\n\n" for code in codes)
    result = subprocess.run(
        [sys.executable, SCRIPT],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(chunk) for chunk in result.stdout.split("\n\n") if chunk.strip()]


def _errors(reply: dict[str, object]) -> list[str]:
    return [m["data"] for m in reply.get("messages", []) if m["severity"] == "error"]  # type: ignore[attr-defined, index]


MARKERS = (
    "-- standin: with probe without omega error no omega\n-- standin: without probe info plain\n"
)


def test_conditions_look_at_the_text_without_marker_lines() -> None:
    plain, other, closer = _replies(
        MARKERS + "theorem t : True := sorry",
        MARKERS + "theorem probe_1 : True := by decide",
        MARKERS + "theorem probe_2 : True := by omega",
    )
    assert _errors(plain) == [] and plain["messages"][0]["data"] == "plain"  # type: ignore[index]
    assert _errors(other) == ["no omega"]
    assert (
        _errors(closer) == [] and "messages" not in closer
    )  # `omega` in a marker line is not seen


def test_a_failed_condition_drops_only_its_own_marker() -> None:
    (reply,) = _replies("-- standin: with absent error never\n-- standin: error always\ndef x := 1")
    assert _errors(reply) == ["always"]
    assert reply["messages"][0]["pos"] == {"line": 2, "column": 0}  # type: ignore[index]
