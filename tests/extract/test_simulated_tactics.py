"""The simulated REPL's `allTactics` (bench/simulated_tactics.py) against the real REPL's recorded
replies (shared/lean-repl-transcripts/core: `all_tactics`, `all_tactics-20250622`,
`self_proof_check`), byte for byte as Lean prints them; and where Lean would refuse the code, no
step at all."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.bench.lean_json import lean_json_pretty
from proofgate.bench.simulated_repl import SCRIPT, split_transcript_commands

pytestmark = pytest.mark.timeout(60)


def run(*commands: str | dict[str, Any]) -> list[str]:
    """Each reply of a fresh stand-in to `commands`, as printed."""
    text = "".join(
        (c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)).strip() + "\n\n"
        for c in commands
    )
    done = subprocess.run(
        [sys.executable, SCRIPT], input=text.encode(), capture_output=True, timeout=30, check=True
    )
    return [reply for reply in done.stdout.decode().split("\n\n") if reply.strip()]


def recorded(shared_dir: Path, name: str) -> tuple[list[str], list[str]]:
    core = shared_dir / "lean-repl-transcripts" / "core"
    commands = split_transcript_commands((core / f"{name}.in").read_text("utf-8"))
    replies = (core / f"{name}.expected.out").read_text("utf-8").split("\n\n")
    return commands, [reply for reply in replies if reply.strip()]


@pytest.mark.parametrize("name", ["all_tactics", "all_tactics-20250622"])
def test_the_recorded_sessions_are_answered_byte_for_byte(shared_dir: Path, name: str) -> None:
    # all_tactics: `have t := 37; exact t` on one line; -20250622: a step's tactic run again
    commands, replies = recorded(shared_dir, name)
    assert run(*commands) == replies


def test_the_recorded_sorry_step_is_answered_as_lean_answers_it(shared_dir: Path) -> None:
    commands, replies = recorded(shared_dir, "self_proof_check")
    (index,) = [n for n, command in enumerate(commands) if "allTactics" in command]
    # the recording ran four commands before it: its proof states are numbered from 2
    expected = re.sub(
        r'"proofState": (\d+)', lambda m: f'"proofState": {int(m[1]) - 2}', replies[index]
    )
    expected = expected.replace('"env": 3', '"env": 0')
    assert run(commands[index]) == [expected]


@pytest.mark.parametrize(
    "code",
    [
        "theorem t (P Q : Prop) (hq : Q) : P := by\n  exact hq",  # a type mismatch
        "theorem t (P : Prop) (hp : P) : P := by\n  exact hp -- standin: error type mismatch",
        "theorem t (P : Prop) (hp : P) : P := by\n  have t := 37",  # the goal is left open
        "theorem t (P : Prop) (hp : P) : P := by\n  exact hp\n  exact hp",  # no goals left
        "theorem t (n : Nat) : n + 0 = n := by\n  simp",  # a tactic the stand-in does not know
        "theorem t (P : Prop) (hp : P) : P := by\n  exact hp\ntheorem u : 1 = 1 := by rfl",
        "theorem t : 1 = 1 := by sorry",  # `sorry` is modelled at `⊢ False` only
    ],
)
def test_no_step_is_invented_where_lean_refuses_or_the_model_does_not_read(code: str) -> None:
    (reply,) = run({"cmd": code, "allTactics": True})
    assert "tactics" not in json.loads(reply)


def test_a_step_run_again_answers_the_recorded_shapes_and_refuses_the_rest() -> None:
    code = "theorem two (P : Prop) (hp : P) : P := by\n  have t : Nat := 42\n  exact hp"
    listed, have, exact, other, sorry = run(
        {"cmd": code, "allTactics": True},
        {"tactic": "have t : Nat := 42", "proofState": 0},
        {"tactic": "exact hp", "proofState": 1},
        {"tactic": "exact t", "proofState": 1},  # t : Nat is not the goal P
        {"tactic": "sorry", "proofState": 0},  # not at `⊢ False`: not modelled
    )
    assert [step["goals"] for step in json.loads(listed)["tactics"]] == [
        "P : Prop\nhp : P\n⊢ P",
        "P : Prop\nhp : P\nt : Nat\n⊢ P",
    ]
    assert have == lean_json_pretty(
        {
            "proofStatus": "Incomplete: open goals remain",
            "proofState": 2,
            "goals": ["P : Prop\nhp : P\nt : Nat\n⊢ P"],
        }
    )  # the shape of the recorded proof_step reply to `have t : Nat := 42`
    assert exact == lean_json_pretty({"proofStatus": "Completed", "proofState": 3, "goals": []})
    assert json.loads(other)["message"].startswith("Lean error:")
    assert json.loads(sorry)["message"].startswith("Lean error:")
