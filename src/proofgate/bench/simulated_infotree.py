"""Info trees for the SIMULATED Lean REPL (`proofgate.bench.simulated_repl`): what it answers to a
`{"cmd": ..., "infotree": LEVEL}` command. No Lean is in it; it checks nothing.

The shapes are the REPL's (`REPL/Lean/InfoTree/ToJson.lean` at v4.32.0) as the recorded replies
show them (shared/lean-repl-transcripts/core/`infotree` at `substantive`, `infotree_theorem` at
`full`): each tree is `{"node", "kind", "children"}`, a tactic's node its `stx` (`range` with
`synthetic`, `start`, `finish`; `pp`, `kind`, `argKinds`), `name`, `goalsBefore`, `goalsAfter`.

Modelled where the stand-in reads a command simply: each `theorem`, `lemma`, `def` or `example` on
one line whose proof is `by` and one tactic of a recorded syntax kind (`exact IDENT`, `constructor`),
its binders `(x : T)` or `{x : T}` and its type after a top-level `:`. Its goal is printed as Lean
prints it there (binders as hypotheses, consecutive ones of one type grouped, then `⊢ TYPE`,
spelled as written), and the tactic is taken to close it. Levels, as `REPL/Main.lean` filters the
full tree: `tactics` keeps the tactic nodes (`by` block, the `by` token, `tacticSeq`,
`tacticSeq1Indented`, the tactic); `original` the same here (every node's syntax is the user's);
`substantive` the tactic alone (`TacticInfo.isSubstantive` drops the structuring ones). `full`
(term and command nodes too) is not modelled, nor is any other tactic: then no `infotree` is
answered, as the REPL answers none when its trees are empty.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LEVELS", "infotree_of"]

#: The levels the REPL knows; another string gets no tree from it.
LEVELS = ("full", "tactics", "original", "substantive")

#: A one-line declaration proved by `by` and one tactic (a comment may end the line).
_ONE_TACTIC = re.compile(
    r"^(?P<keyword>theorem|lemma|def|example)(?=[ \t])(?P<rest>(?:(?!:=)[^\n])*?)"
    r":=[ \t]*(?P<by>by)[ \t]+(?P<tactic>(?:(?!--)[^\n])*?)[ \t]*(?:--[^\n]*)?$",
    re.MULTILINE,
)
_BY = re.compile(r"(?<![\w.'])by(?![\w.'])")
#: Tactic syntax kinds seen in the recorded replies: (pattern, kind, argKinds).
_TACTICS = (
    (re.compile(r"exact[ \t]+[^\W\d][\w.']*"), "Lean.Parser.Tactic.exact", ["exact", "ident"]),
    (re.compile(r"constructor"), "Lean.Parser.Tactic.constructor", ["constructor"]),
)
_BINDER_CLOSE = {"(": ")", "{": "}"}


def _position(code: str, offset: int) -> dict[str, int]:
    line = code.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (code.rfind("\n", 0, offset) + 1)}


def _goal(rest: str, *, named: bool) -> str | None:
    """The goal at the start of the proof; `rest` is the declaration after its keyword."""
    text = rest.strip()
    if named:
        name, _, text = text.partition(" ")
        if not name or not re.fullmatch(r"[^\W\d][\w.']*", name):
            return None
    hypotheses: list[tuple[str, str]] = []
    text = text.strip()
    while text[:1] in _BINDER_CLOSE:
        end = text.find(_BINDER_CLOSE[text[0]])
        names, colon, kind = text[1:end].partition(":")
        if end < 0 or not colon or not names.split() or not kind.strip():
            return None
        hypotheses += [(name, " ".join(kind.split())) for name in names.split()]
        text = text[end + 1 :].strip()
    if not text.startswith(":") or not text[1:].strip():
        return None
    lines: list[str] = []
    for index, (name, kind) in enumerate(hypotheses):
        if index and hypotheses[index - 1][1] == kind:  # grouped: `a b : T`
            lines[-1] = lines[-1].replace(f" : {kind}", f" {name} : {kind}", 1)
        else:
            lines.append(f"{name} : {kind}")
    return "\n".join([*lines, "⊢ " + " ".join(text[1:].split())])


def _node(
    code: str,
    span: tuple[int, int],
    *,
    pp: str,
    kind: str,
    arg_kinds: list[str],
    name: str | None,
    goal: str,
    children: list[dict[str, Any]],
) -> dict[str, Any]:
    syntax = {
        "range": {
            "synthetic": False,
            "start": _position(code, span[0]),
            "finish": _position(code, span[1]),
        },
        "pp": pp,
        "kind": kind,
        "argKinds": arg_kinds,
    }
    return {
        "node": {"stx": syntax, "name": name, "goalsBefore": [goal], "goalsAfter": []},
        "kind": "TacticInfo",
        "children": children,
    }


def _proof_tree(code: str, match: re.Match[str], level: str) -> dict[str, Any] | None:
    goal = _goal(match["rest"], named=match["keyword"] != "example")
    tactic = match["tactic"]
    found = next(
        ((kind, args) for pattern, kind, args in _TACTICS if pattern.fullmatch(tactic)), None
    )
    if goal is None or found is None:
        return None
    kind, arg_kinds = found
    pp = " ".join(tactic.split())
    span = (match.start("tactic"), match.end("tactic"))
    tree = _node(
        code, span, pp=pp, kind=kind, arg_kinds=arg_kinds, name=kind, goal=goal, children=[]
    )
    if level == "substantive":
        return tree
    for structure, args in (
        ("Lean.Parser.Tactic.tacticSeq1Indented", ["null"]),
        ("Lean.Parser.Tactic.tacticSeq", ["Lean.Parser.Tactic.tacticSeq1Indented"]),
    ):
        tree = _node(
            code,
            span,
            pp=pp,
            kind=structure,
            arg_kinds=args,
            name=structure,
            goal=goal,
            children=[tree],
        )
    by_span = (match.start("by"), match.end("by"))
    tree = _node(
        code,
        by_span,
        pp="<failed to pretty print>",
        kind="by",
        arg_kinds=[],
        name=None,
        goal=goal,
        children=[tree],
    )
    return _node(
        code,
        (by_span[0], span[1]),
        pp=f"by {pp}",
        kind="Lean.Parser.Term.byTactic",
        arg_kinds=["by", "Lean.Parser.Tactic.tacticSeq"],
        name="Lean.Parser.Term.byTactic",
        goal=goal,
        children=[tree],
    )


def infotree_of(code: str, level: object) -> list[dict[str, Any]] | None:
    """The `infotree` value the simulated REPL answers for `code` at `level`, or None (no key)
    where the REPL would print none or the stand-in cannot read the command (module docstring)."""
    if level not in ("tactics", "original", "substantive"):
        return None
    matches = list(_ONE_TACTIC.finditer(code))
    if not matches or len(matches) != len(_BY.findall(code)):  # a proof it does not read
        return None
    trees = [_proof_tree(code, match, str(level)) for match in matches]
    if any(tree is None for tree in trees):
        return None
    return [tree for tree in trees if tree is not None]
