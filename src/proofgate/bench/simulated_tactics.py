"""`allTactics` for the SIMULATED Lean REPL (`proofgate.bench.simulated_repl`): the `tactics` it
answers to `{"cmd": ..., "allTactics": true}`, and its answers to a tactic run again on one of
those steps' proof states. No Lean is in it; it checks nothing.

Recorded (shared/lean-repl-transcripts/core, REPL v4.32.0), and copied here as the REPL printed it:
- the reply's shape: `tactics` entries with `usedConstants`, `tactic`, `proofState`, `pos`,
  `goals`, `endPos` (`REPL/JSON.lean`'s `Tactic`), their proof states numbered after the
  command's sorries (`self_proof_check`, `calc`);
- `have NAME := NUMERAL` at the block's goal: usedConstants `instOfNatNat, Nat, OfNat.ofNat`, and
  `NAME : Nat` added to the goal after it (`all_tactics`; run again, `proof_step`);
- `exact NAME` for a hypothesis NAME: usedConstants empty (`all_tactics`,
  `all_tactics-20250622`); run again, `Completed` with no goals (`all_tactics-20250622`);
- `sorry` at `⊢ False` with no hypotheses: its usedConstants list (`self_proof_check`); run
  again, a sorry and `Incomplete: contains sorry` (`tactic_mode_sorry`).

Modelled, not recorded: which proofs the stand-in reads. A `theorem`, `lemma`, `def` or `example`
whose binders and type `goal_of` reads (as the literal `sorry` model does) and whose proof is `by`
and a sequence of the tactics above, separated by `;` or one a line; `exact NAME` only when NAME's
type is the goal's target as written (Lean would refuse it otherwise), `sorry` only at the goal
`⊢ False`, and the last tactic must close the goal. Where a command holds any other `by`, a tactic
the stand-in does not know, a goal left open, or an error, it answers no `tactics` at all: a
stand-in must not invent steps for code Lean would reject. A tactic run again on a step's state
is answered only for these tactics; any other gets the REPL's refusal shape (`Lean error:`), never
an invented success.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StepState", "all_tactics", "replay_tactic"]

#: `usedConstants` as recorded (see the module docstring), in the REPL's order.
NAT_NUMERAL_CONSTANTS = ["instOfNatNat", "Nat", "OfNat.ofNat"]
SORRY_FALSE_CONSTANTS = [
    "False",
    "sorryAx",
    "instOfNatNat",
    "Lean.Name.num",
    "Lean.Name.str",
    "Lean.Name.anonymous",
    "Nat",
    "Lean.Name",
    "OfNat.ofNat",
    "Bool.false",
]

#: A declaration proved by `by` and a block: the keyword, binders and type, then the block up to
#: the next line that starts at column 0 (or the end).
_BY_BLOCK = re.compile(
    r"^(?P<keyword>theorem|lemma|def|example)(?=\s)(?P<rest>(?:(?!:=)[^\n]|\n(?=[ \t]))*?)"
    r":=[ \t]*(?P<by>by)(?=\s)(?P<block>(?:[^\n]|\n(?=[ \t]|\n))*)",
    re.MULTILINE,
)
_BY = re.compile(r"(?<![\w.'])by(?![\w.'])")
_NAME = r"[^\W\d][\w.']*"
_HAVE = re.compile(rf"have[ \t]+(?P<name>{_NAME})(?:[ \t]*:[ \t]*Nat)?[ \t]*:=[ \t]*(?P<value>\d+)")
_EXACT = re.compile(rf"exact[ \t]+(?P<name>{_NAME})")

#: The goal reader: `goal_of(rest, named)` is Lean's goal for a declaration whose text after its
#: keyword is `rest`, or None where the stand-in cannot read it.
GoalReader = Callable[[str, bool], "str | None"]


@dataclass
class StepState:
    """A goal: hypotheses `(names, type)` in order, and the target; `closed` once solved."""

    hypotheses: list[tuple[list[str], str]] = field(default_factory=list)
    target: str = ""
    closed: bool = False

    @classmethod
    def read(cls, goal: str) -> StepState | None:
        lines = goal.split("\n")
        if not lines[-1].startswith("⊢ "):
            return None
        hypotheses = []
        for line in lines[:-1]:
            names, colon, kind = line.partition(" : ")
            if not colon:
                return None
            hypotheses.append((names.split(), kind))
        return cls(hypotheses, lines[-1][2:])

    def text(self) -> str:
        """The goal as the REPL prints it (`no goals` once closed)."""
        if self.closed:
            return "no goals"
        return "\n".join(
            [*(f"{' '.join(n)} : {k}" for n, k in self.hypotheses), f"⊢ {self.target}"]
        )

    def type_of(self, name: str) -> str | None:
        for names, kind in reversed(self.hypotheses):  # the latest binding shadows
            if name in names:
                return kind
        return None

    def with_hypothesis(self, name: str, kind: str) -> StepState:
        hypotheses = [(list(n), k) for n, k in self.hypotheses]
        if hypotheses and hypotheses[-1][1] == kind:  # Lean groups consecutive ones of one type
            hypotheses[-1][0].append(name)
        else:
            hypotheses.append(([name], kind))
        return StepState(hypotheses, self.target)


def _step(state: StepState, tactic: str) -> tuple[StepState, list[str]] | None:
    """The state after `tactic` and its usedConstants, where modelled; None otherwise."""
    if state.closed:
        return None  # Lean: "no goals to be proved"
    if have := _HAVE.fullmatch(tactic):
        return state.with_hypothesis(have["name"], "Nat"), list(NAT_NUMERAL_CONSTANTS)
    if exact := _EXACT.fullmatch(tactic):
        if state.type_of(exact["name"]) != state.target:
            return None  # a type mismatch (or an unknown name): Lean refuses it
        return StepState(closed=True), []
    if tactic == "sorry" and state.target == "False" and not state.hypotheses:
        return StepState(closed=True), list(SORRY_FALSE_CONSTANTS)
    return None


def _position(code: str, offset: int) -> dict[str, int]:
    line = code.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (code.rfind("\n", 0, offset) + 1)}


def _tactic_spans(code: str, start: int, end: int) -> list[tuple[int, int]]:
    """Offsets of each tactic in the block `code[start:end]`: split at `;` and line ends, a line's
    comment and surrounding blanks left out."""
    spans = []
    offset = start
    for line in code[start:end].split("\n"):
        text = line.split("--", 1)[0]
        cursor = 0
        for piece in text.split(";"):
            stripped = piece.strip()
            if stripped:
                first = offset + cursor + piece.index(stripped)
                spans.append((first, first + len(stripped)))
            cursor += len(piece) + 1
        offset += len(line) + 1
    return spans


def _declaration_tactics(
    code: str, match: re.Match[str], goal_of: GoalReader
) -> tuple[list[dict[str, Any]], list[StepState]] | None:
    goal = goal_of(match["rest"], match["keyword"] != "example")
    state = StepState.read(goal) if goal is not None else None
    spans = _tactic_spans(code, match.end("by"), match.end("block"))
    if state is None or not spans:
        return None
    tactics, states = [], []
    for first, last in spans:
        text = " ".join(code[first:last].split())
        stepped = _step(state, text)
        if stepped is None:
            return None
        tactics.append(
            {
                "usedConstants": stepped[1],
                "tactic": text,
                "pos": _position(code, first),
                "goals": state.text(),
                "endPos": _position(code, last),
            }
        )
        states.append(state)
        state = stepped[0]
    return (tactics, states) if state.closed else None


def all_tactics(code: str, goal_of: GoalReader) -> tuple[list[dict[str, Any]], list[StepState]]:
    """The `tactics` entries (without `proofState`: the caller numbers them after its sorries)
    and the goal each one starts from; both empty where the stand-in does not read every proof
    of `code` (see the module docstring)."""
    matches = list(_BY_BLOCK.finditer(code))
    if not matches or len(matches) != len(_BY.findall(code)):
        return [], []
    tactics: list[dict[str, Any]] = []
    states: list[StepState] = []
    for match in matches:
        found = _declaration_tactics(code, match, goal_of)
        if found is None:
            return [], []
        tactics += found[0]
        states += found[1]
    return tactics, states


def replay_tactic(state: StepState, tactic: str, new_state: int) -> dict[str, Any]:
    """The reply to `{"tactic": TACTIC, "proofState": N}` on a step's state, where modelled (the
    recorded shapes), else the REPL's refusal shape. `new_state` is the id the reply hands out;
    a `sorry` hands out two (its sorry's, then the new state's)."""
    text = " ".join(tactic.split())
    stepped = _step(state, text)
    if stepped is None:
        return {"message": f"Lean error:\nsimulated REPL: `{text}` is not modelled on this goal"}
    after = stepped[0]
    if text == "sorry":
        return {
            "sorries": [{"proofState": new_state, "goal": state.text()}],
            "proofStatus": "Incomplete: contains sorry",
            "proofState": new_state + 1,
            "goals": [],
        }
    if after.closed:
        return {"proofStatus": "Completed", "proofState": new_state, "goals": []}
    return {
        "proofStatus": "Incomplete: open goals remain",
        "proofState": new_state,
        "goals": [after.text()],
    }
