"""The simulated REPL's info trees (bench/simulated_infotree.py) against the real REPL's recorded
replies (shared/lean-repl-transcripts/core: `infotree` at `substantive`, `infotree_theorem` at
`full`), byte for byte as Lean prints them. A level the recording does not hold is compared with
the REPL's own filter of the recorded full tree (`REPL/Main.lean`, `REPL/Lean/InfoTree.lean` at
v4.32.0: keep the tactic nodes; then the ones of original syntax, or the substantive ones), each
filter restated below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proofgate.bench.lean_json import lean_json_pretty
from proofgate.bench.simulated_infotree import infotree_of
from proofgate.bench.simulated_repl import SCRIPT, split_transcript_commands

Tree = dict[str, Any]

#: The structuring tactics `TacticInfo.isSubstantive` drops (by their syntax kind's name).
STRUCTURING = {
    None,
    "null",
    "Lean.cdot",
    "Lean.cdotTk",
    "Lean.Parser.Term.byTactic",
    "Lean.Parser.Tactic.tacticSeq",
    "Lean.Parser.Tactic.tacticSeq1Indented",
    "Lean.Parser.Tactic.«tactic_<;>_»",
    "Lean.Parser.Tactic.paren",
}


def retain(trees: list[Tree], keep: Callable[[Tree], bool]) -> list[Tree]:
    """`InfoTree.filter`: a kept node keeps its filtered children; a dropped one is replaced by
    them."""
    kept: list[Tree] = []
    for tree in trees:
        children = retain(tree["children"], keep)
        if keep(tree):
            kept.append({**tree, "children": children})
        else:
            kept.extend(children)
    return kept


def is_tactic(tree: Tree) -> bool:
    return bool(tree["kind"] == "TacticInfo")


def is_original(tree: Tree) -> bool:
    return not tree["node"]["stx"]["range"]["synthetic"]


def is_substantive(tree: Tree) -> bool:
    return tree["node"]["name"] not in STRUCTURING


def recorded(shared_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recorded command and reply of core/NAME (one each)."""
    core = shared_dir / "lean-repl-transcripts" / "core"
    [command] = split_transcript_commands((core / f"{name}.in").read_text(encoding="utf-8"))
    [reply] = split_transcript_commands((core / f"{name}.expected.out").read_text("utf-8"))
    return json.loads(command), json.loads(reply)


def test_the_recorded_substantive_tree_is_answered_byte_for_byte(shared_dir: Path) -> None:
    command, reply = recorded(shared_dir, "infotree")
    answered = infotree_of(command["cmd"], command["infotree"])
    assert answered is not None
    assert lean_json_pretty(answered) == lean_json_pretty(reply["infotree"])


@pytest.mark.parametrize(
    ("level", "filters"),
    [
        ("tactics", [is_tactic]),
        ("original", [is_tactic, is_original]),
        ("substantive", [is_tactic, is_substantive]),
    ],
)
def test_each_level_is_the_repls_filter_of_the_recorded_full_tree(
    shared_dir: Path, level: str, filters: list[Callable[[Tree], bool]]
) -> None:
    command, reply = recorded(shared_dir, "infotree_theorem")
    assert command["infotree"] == "full"
    expected = reply["infotree"]
    for keep in filters:
        expected = retain(expected, keep)
    answered = infotree_of(command["cmd"], level)
    assert answered is not None
    assert lean_json_pretty(answered) == lean_json_pretty(expected)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("theorem show_p (p: Prop) (h : p) : p := by exact h", "full"),  # not modelled
        ("theorem show_p (p: Prop) (h : p) : p := by exact h", "synthetic"),  # no such level
        ("theorem t (p: Prop) (h : p) : p := by simpa using h", "tactics"),  # no recorded kind
        ("theorem t (p: Prop) (h : p) : p := by\n  exact h", "tactics"),  # not on one line
        ("def f := 1", "tactics"),  # no tactic: the REPL's trees are empty
    ],
)
def test_what_it_cannot_read_gets_no_tree(code: str, level: str) -> None:
    assert infotree_of(code, level) is None


def test_the_process_answers_the_tree_beside_the_env() -> None:
    code = "theorem show_p (p: Prop) (h : p) : p := by exact h"
    stdin = (
        json.dumps({"cmd": code, "infotree": "substantive"})
        + "\n\n"
        + json.dumps({"cmd": code})
        + "\n\n"
    )
    result = subprocess.run(
        [sys.executable, SCRIPT], input=stdin, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    with_tree, without = (json.loads(chunk) for chunk in result.stdout.split("\n\n") if chunk)
    assert with_tree["env"] == 0 and with_tree["infotree"] == infotree_of(code, "substantive")
    assert without == {"env": 1}
