"""Triage probes: the Lean files proofgate builds to ask cheap questions of a statement.

Every probe is the statement's own text (same header, `open`s, `variable`s, definitions), with
the target either replaced in place by the probe or followed by it, in the target's scope:

    set_option maxHeartbeats N in
    theorem <Pfx.>proofgate_triage_<kind>_<i> ... := by
      <proofgate's fixed tactics>

- `trivially_provable`: the target itself (doc comment, attributes, binders and type as written),
  renamed and proved by a closer: it means exactly what the target means, and no sorry'd copy of
  the target is left for a closer (`simp` with an `@[simp]` target) to use.
- `disproved`: `¬ (type_of% @_root_.<target>)`, the negation of the target's elaborated, closed
  type (its binders, `variable`s and auto-bound implicits all quantified as in the target), proved
  by a closer, or by `push_neg` then a closer. Only proofgate's text surrounds the user's here, and
  a statement that declares notation (which could change what `¬` or `type_of%` parse as) gets no
  `disproved` probe at all.
- `vacuous`: the target itself, renamed and proved by `intros`, `exfalso`, then a closer: the
  hypotheses (binders and the premises of its type) alone prove `False`.
- `disproved` probes follow the target, which stays proved by `sorry` (the negation names it); a
  closer that used it would reach `sorryAx`, which the audit refuses.

The user's text never becomes a tactic: tactics are proofgate's fixed words and the configured
closers. Names are `proofgate_triage_trivial_<i>`, `..._disproof_<i>`, `..._vacuous_<i>`, with the
declared name's own prefix (so `theorem Nat.foo` keeps `Nat` open in its probes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proofgate.exceptions import SubmissionError
from proofgate.lean.lexer import Token, TokenKind, is_id_first, is_id_rest, tokenize
from proofgate.lean.reply import ReplPos, ReplReply
from proofgate.lean.syntax import (
    MODIFIER_WORDS,
    NOTATION_WORDS,
    RESERVED_WORDS,
    THEOREM_WORDS,
    nesting,
)
from proofgate.models import ProbeKind, ProbeOutcome
from proofgate.verify.assemble import Declaration, Statement

__all__ = [
    "Probe",
    "TargetText",
    "build_probes",
    "classify_probe",
    "lean_name",
    "read_target",
    "select_closers",
    "sorried_dependencies",
]

PROBE_PREFIX = "proofgate_triage_"
_KIND_WORD = {
    ProbeKind.trivially_provable: "trivial",
    ProbeKind.disproved: "disproof",
    ProbeKind.vacuous: "vacuous",
}
#: Closers that only look at the goal, and their forms that use the hypotheses (vacuous probes).
_HYPOTHESIS_FORMS = {"simp": "simp_all", "norm_num": "norm_num at *"}
#: Closers that can never prove `False` from hypotheses: their vacuous probes are not run.
_GOAL_ONLY = frozenset({"decide", "positivity", "rfl", "trivial"})
_ARROWS = frozenset({"→", "->", "∀", "Π", "forall"})


@dataclass(frozen=True)
class TargetText:
    """Where the target stands in the statement's text, and what its signature says."""

    declaration: Declaration
    name: Token  # the declared name, as written
    signature: str  # text between the name and `:=` (universe parameters, binders, `: type`)
    prefix: str  # `open ... in` / `set_option ... in` written before the target, kept for probes
    command_start: int  # where the target's command starts (prefixes, doc comment, attributes)
    has_hypotheses: bool  # binders, premises in its type, or `variable`s that may add some
    declares_notation: str | None  # the first notation command in the statement, if any
    has_mathlib: bool


@dataclass(frozen=True)
class Probe:
    """One probe file, and where its own theorem is in it."""

    kind: ProbeKind
    closer: str
    tactic: str  # the script, tactics joined by "; " (what results show)
    order: int  # position in the run order; lower runs first and wins "first closer"
    name: str  # the probe theorem's full name
    source: str
    first_line: int  # the probe's own lines in `source`, 1-based, inclusive
    last_line: int
    negation_statement: str | None = None  # disproof: the same file proved by `sorry` (audit)
    skip_reason: str | None = None  # built, but not to be run


def _find_target(code: list[Token], declaration: Declaration) -> tuple[int, int, int]:
    """Indices of the target's keyword, its name and its `:=` among the code tokens."""
    for index, token in enumerate(code[:-1]):
        if not token.is_word(*THEOREM_WORDS):
            continue
        name = code[index + 1]
        if name.kind is not TokenKind.IDENT or name.name != declaration.declared:
            continue
        depth = 0
        for position in range(index + 2, len(code)):
            probe = code[position]
            if depth == 0 and probe.text == ":=":
                after = code[position + 1] if position + 1 < len(code) else None
                if after is not None and after.start == declaration.proof_start:
                    return index, index + 1, position
                break
            depth = nesting(probe, depth)
    raise ValueError(f"cannot find the target {declaration.name} in the statement's text")


def _command_start(
    text: str, tokens: list[Token], code: list[Token], keyword: int
) -> tuple[str, int]:
    """The `open X in` / `set_option o v in` written before the target (over its modifiers and
    attributes), and the offset where the target's whole command starts (doc comment included)."""
    index = keyword - 1
    while index >= 0 and code[index].is_word(*MODIFIER_WORDS):
        index -= 1
    if index >= 0 and code[index].text == "]":  # an attribute list `@[...]`
        depth = 0
        while index >= 0:
            depth += code[index].text == "]"
            depth -= code[index].text in ("[", "@[")
            index -= 1
            if depth == 0:
                break
    first = code[index + 1]
    position = next(i for i, token in enumerate(tokens) if token is first)
    doc = tokens[position - 1] if position > 0 else None
    start = doc.start if doc is not None and doc.kind is TokenKind.DOC_COMMENT else first.start
    pieces: list[str] = []
    while index >= 0 and code[index].is_word("in"):
        opening = index - 1
        while opening >= 0 and not code[opening].is_word("open", "set_option"):
            opening -= 1
        if opening < 0:
            break
        pieces.insert(0, text[code[opening].start : code[index].end] + "\n")
        start = code[opening].start
        index = opening - 1
    return "".join(pieces), start


def read_target(statement: Statement) -> TargetText:
    """Read the target's name and signature from the statement's tokens."""
    text = statement.text
    tokens = tokenize(text)
    code = [token for token in tokens if token.is_code]
    keyword, name_index, assign = _find_target(code, statement.target)
    name = code[name_index]
    signature_tokens = code[name_index + 1 : assign]
    if (
        len(signature_tokens) >= 2
        and signature_tokens[0].text == "."
        and signature_tokens[1].text == "{"
    ):
        close = next((i for i, t in enumerate(signature_tokens) if t.text == "}"), 1)
        signature_tokens = signature_tokens[close + 1 :]  # universe parameters `.{u}`
    depth, colon = 0, len(signature_tokens)
    for index, token in enumerate(signature_tokens):
        if depth == 0 and token.kind is TokenKind.SYMBOL and token.text == ":":
            colon = index
            break
        depth = nesting(token, depth)
    binders, conclusion = signature_tokens[:colon], signature_tokens[colon + 1 :]
    uses_variables = any(token.is_word("variable", "include") for token in code)
    premises = any(token.text in _ARROWS for token in conclusion)
    notation = next((t.text for t in code if t.is_word(*NOTATION_WORDS)), None)
    prefix, command_start = _command_start(text, tokens, code, keyword)
    return TargetText(
        declaration=statement.target,
        name=name,
        signature=text[name.end : code[assign].start],
        prefix=prefix,
        command_start=command_start,
        has_hypotheses=bool(binders) or premises or uses_variables,
        declares_notation=notation,
        has_mathlib=any(module.parts[0] == "Mathlib" for module in statement.header.modules),
    )


def lean_name(parts: Sequence[str]) -> str:
    """`parts` as a Lean identifier, each component in «» where it needs them."""

    def component(part: str) -> str:
        plain = (
            bool(part)
            and is_id_first(part[0])
            and all(is_id_rest(ch) for ch in part[1:])
            and part not in RESERVED_WORDS
        )
        return part if plain else f"«{part}»"

    return ".".join(component(part) for part in parts)


def _names(statement: Statement, target: TargetText, last: str) -> tuple[str, str]:
    """(the probe's name as declared, its full name) for a probe called `last`."""
    parts = list(target.name.parts) or [target.name.text]
    rooted = parts[0] == "_root_"
    own = parts[1:] if rooted else parts
    declared = lean_name([*(["_root_"] if rooted else []), *own[:-1], last])
    tail = ".".join(own)
    namespace = statement.target_name[: len(statement.target_name) - len(tail)]
    return declared, namespace + ".".join([*own[:-1], last])


def _block(prefix: str, heartbeats: int, header: str, tactics: Sequence[str]) -> str:
    option = f"set_option maxHeartbeats {heartbeats} in\n" if heartbeats > 0 else ""
    body = "".join(f"\n  {tactic}" for tactic in tactics)
    space = "" if header[-1:].isspace() else " "
    return f"{prefix}{option}{header}{space}:= by{body}\n"


def build_probes(statement: Statement, closers: Sequence[str], *, heartbeats: int) -> list[Probe]:
    """Every probe for `closers`, in run order: for each closer, its trivial, disproof and vacuous
    probes, then the disproof after `push_neg`. Probes that cannot say anything carry a
    `skip_reason` instead of being left out, so the result lists them."""
    target = read_target(statement)
    text = statement.text
    start, end = statement.target.proof_start, statement.target.proof_end
    assert start is not None and end is not None  # a target proved by `sorry` has a value
    before, after = text[:end] + "\n\n", text[end:]
    reference = "@" + lean_name(["_root_", *statement.target_name.split(".")])
    line_start = text.rfind("\n", 0, target.command_start) + 1
    indent = " " * (
        len(text[line_start : target.command_start])
        - len(text[line_start : target.command_start].lstrip(" "))
    )
    option = f"set_option maxHeartbeats {heartbeats} in\n{indent}" if heartbeats > 0 else ""
    probes: list[Probe] = []

    def in_place(declared: str, tactics: list[str]) -> tuple[str, int, int]:
        """The target itself, renamed and proved by `tactics` (no sorry'd copy of it is left for
        a closer to use): (source, its first line, its last line)."""
        head = text[: target.command_start] + option
        proof = "by" + "".join(f"\n{indent}  {tactic}" for tactic in tactics)
        body = (
            text[target.command_start : target.name.start]
            + declared
            + text[target.name.end : start]
            + proof
        )
        first = text[: target.command_start].count("\n") + 1
        return head + body + text[end:], first, first + (option + body).count("\n")

    def add(kind: ProbeKind, closer: str, tactics: list[str], skip: str | None) -> None:
        order = len(probes)
        declared, full = _names(statement, target, f"{PROBE_PREFIX}{_KIND_WORD[kind]}_{order}")
        negation = None
        if kind is ProbeKind.disproved:
            header = f"theorem {declared} : ¬ (type_of% {reference})"
            block = _block(target.prefix, heartbeats, header, tactics)
            source, first = before + block + after, before.count("\n") + 1
            last = first + block.count("\n") - 1
            negation = before + _block(target.prefix, heartbeats, header, ["sorry"]) + after
        else:
            source, first, last = in_place(declared, tactics)
        probes.append(
            Probe(
                kind=kind,
                closer=closer,
                tactic="; ".join(tactics),
                order=order,
                name=full,
                source=source,
                first_line=first,
                last_line=last,
                negation_statement=negation,
                skip_reason=skip,
            )
        )

    no_disproof = None
    if target.declares_notation is not None:
        no_disproof = (
            f"the statement declares notation (`{target.declares_notation}`), which could change "
            "what proofgate's negation of it means, so `disproved` is not attempted"
        )
    for closer in closers:
        add(ProbeKind.trivially_provable, closer, [closer], None)
        add(ProbeKind.disproved, closer, [closer], no_disproof)
        vacuous_skip = None
        if not target.has_hypotheses:
            vacuous_skip = "the statement has no hypotheses"
        elif closer in _GOAL_ONLY:
            vacuous_skip = f"`{closer}` cannot prove False from hypotheses"
        form = _HYPOTHESIS_FORMS.get(closer, closer)
        add(ProbeKind.vacuous, closer, ["intros", "exfalso", form], vacuous_skip)
    for closer in closers:
        push_skip = no_disproof or (None if target.has_mathlib else "`push_neg` needs Mathlib")
        add(ProbeKind.disproved, closer, ["push_neg", closer], push_skip)
    return probes


def _mentions(text: str, declaration: Declaration) -> set[str]:
    names = set(declaration.signature)
    if declaration.proof_start is not None and declaration.proof_end is not None:
        body = tokenize(text[declaration.proof_start : declaration.proof_end])
        names |= {token.name for token in body if token.kind is TokenKind.IDENT}
    return names | {name.rsplit(".", 1)[-1] for name in names}


def _has_sorry(text: str, declaration: Declaration) -> bool:
    if declaration.proof_start is None or declaration.proof_end is None:
        return False
    body = tokenize(text[declaration.proof_start : declaration.proof_end])
    return any(token.is_word("sorry", "admit") for token in body)


def sorried_dependencies(statement: Statement) -> list[str]:
    """Declarations of the statement with a `sorry` in their value that the target's statement
    depends on, directly or through other declarations (by the names they mention)."""
    others = [(d.name, d) for d in statement.declarations if d is not statement.target and d.name]
    seen: set[str] = set()
    frontier = set(statement.target.signature)
    frontier |= {name.rsplit(".", 1)[-1] for name in frontier}
    while frontier:
        reached = [
            (name, d)
            for name, d in others
            if name not in seen and ({name, d.declared or "", name.rsplit(".", 1)[-1]} & frontier)
        ]
        frontier = set()
        for name, declaration in reached:
            seen.add(name)
            frontier |= _mentions(statement.text, declaration)
    return [name for name, d in others if name in seen and _has_sorry(statement.text, d)]


def select_closers(requested: Sequence[str] | None, configured: Sequence[str]) -> list[str]:
    """The closers to try: the request's selection (each one configured), else all configured."""
    if requested is None:
        return list(configured)
    unknown = [closer for closer in requested if closer not in configured]
    if unknown or not requested or len(set(requested)) != len(requested):
        raise SubmissionError(
            f"closers must be distinct and among this server's: {', '.join(configured)} "
            f"(not known here: {', '.join(unknown) or 'none'})",
            field="closers",
        )
    return list(requested)


def classify_probe(reply: ReplReply, probe: Probe) -> tuple[ProbeOutcome, str]:
    """Closed only without any error and without a `sorry` (REPL `sorries` or a "declaration uses
    sorry" warning) in the probe's own lines; the statement's own `sorry`s do not count."""
    if reply.has_errors:
        text = reply.errors[0].data.strip().split("\n", 1)[0]
        return ProbeOutcome.failed, text[:200] or "Lean reported an error"

    def in_probe(pos: ReplPos | None) -> bool:
        if pos is None:
            return True  # no position: it could be the probe's
        return probe.first_line <= pos.line <= probe.last_line

    sorry_warnings = [
        m
        for m in reply.messages
        if "declaration uses 'sorry'" in m.data or "declaration uses `sorry`" in m.data
    ]
    if any(in_probe(m.pos) for m in sorry_warnings) or any(in_probe(s.pos) for s in reply.sorries):
        return ProbeOutcome.failed, "the probe still contains a `sorry`"
    return ProbeOutcome.closed, ""
