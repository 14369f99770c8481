"""Turn a `Submission` into the one Lean file that is checked, and map positions back.

- Free compile: the file is `code`. A `target` must be one of its public theorems
  (`Assembled.compile_target`); when it is not, `Assembled.target_missing` says why, and the
  verdict is `failed` (`target_missing`).
- Locked check with `code`: the file is `code`; if it has no header (no `module`, `prelude` or
  `import`), the statement's own header (DESIGN.md "Settled questions": its leading imports, read
  by `proofgate.lean.syntax.read_header` as Lean reads them) goes in front of it.
- Locked check with `proof`: the file is the statement with its target's proof (`sorry` or
  `by sorry`) replaced by `proof`, a tactic block (`by ...`) or a term, inserted where the
  `sorry` stood (so a multi-line tactic block keeps its own indentation).

The target is the statement's last `theorem`/`lemma` (or the one `Submission.target` names), under
its full name (enclosing `namespace`s, `_root_`). Answer holes are the statement's other
declarations whose value is `sorry` (PutnamBench's `abbrev ..._solution := sorry`) and which the
target's statement mentions. Every position in the assembled file maps back to the submitter's own
text: the field (`code`, `statement` or `proof`) and a line and column in it.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from proofgate.exceptions import SubmissionError
from proofgate.lean.lexer import Token, TokenKind, iter_tokens, tokenize
from proofgate.lean.syntax import (
    COMMAND_WORDS,
    DECLARATION_WORDS,
    MODIFIER_WORDS,
    THEOREM_WORDS,
    Header,
    Scopes,
    is_attribute_use,
    nesting,
    read_header,
)
from proofgate.models import Position, Submission
from proofgate.verify.rules import HASH_KNOWN

__all__ = [
    "Assembled",
    "Declaration",
    "SourceField",
    "SourcePosition",
    "Span",
    "Statement",
    "assemble",
    "parse_statement",
]

SourceField = Literal["code", "statement", "proof"]

#: Declarations that may be an answer hole (`abbrev ..._solution : T := sorry`).
_HOLE_WORDS = frozenset({"def", "abbrev", "opaque"})


@dataclass(frozen=True)
class SourcePosition:
    """A place in one of the submitter's fields: 1-based line, 0-based codepoint column."""

    field: SourceField
    line: int
    column: int

    @property
    def position(self) -> Position:
        return Position(line=self.line, column=self.column)


@dataclass(frozen=True)
class Span:
    """Assembled offsets [start, end) that are `field`'s text from `source_start` on."""

    start: int
    end: int
    field: SourceField
    source_start: int


@dataclass(frozen=True)
class Declaration:
    """One declaration of a statement, as far as the policy-level reader can tell."""

    keyword: str
    name: str | None  # full name, namespaces applied (None for `example`, anonymous instances)
    declared: str | None  # as written after the keyword
    private: bool
    proof_start: int | None  # offsets of the value after `:=` (None: no `:=` found)
    proof_end: int | None
    is_sorry: bool  # the value is exactly `sorry` or `by sorry`
    signature: tuple[str, ...] = ()  # identifiers between the name and `:=`


@dataclass(frozen=True)
class Statement:
    """A locked statement, read: its header, declarations, target and answer holes."""

    text: str
    header: Header  # `module`, `prelude`, the leading imports
    declarations: tuple[Declaration, ...]
    target: Declaration
    holes: tuple[str, ...]  # full names of the `:= sorry` declarations the target mentions

    @property
    def target_name(self) -> str:
        assert self.target.name is not None
        return self.target.name

    @property
    def imports(self) -> tuple[str, ...]:
        """The modules the statement imports, as written (`M` for `import all M`)."""
        return tuple(module.text for module in self.header.modules)


class _Lines:
    """Offset <-> (line, column) for one text."""

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def offset(self, line: int, column: int) -> int | None:
        if line < 1 or line > len(self.starts) or column < 0:
            return None
        start = self.starts[line - 1]
        stop = self.starts[line] - 1 if line < len(self.starts) else self.length
        return min(start + column, stop)

    def where(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index]


@dataclass(frozen=True)
class Assembled:
    """The file Lean checks, what it came from, and how its positions map back."""

    kind: Literal["check", "compile"]
    text: str
    sources: Mapping[SourceField, str]
    spans: tuple[Span, ...]
    statement: Statement | None = None
    target: str | None = None
    answer_holes: tuple[str, ...] = ()
    #: A free compile's `target` (the audit's `target` is a locked check's only): the theorem of
    #: the code it names, under its full name, or the name asked for when the code lacks it.
    compile_target: str | None = None
    #: Why the code lacks `compile_target`: the verdict is `failed` (category `target_missing`)
    #: whatever Lean says, so Lean need not run.
    target_missing: str | None = None
    _lines: dict[str, _Lines] = field(default_factory=dict, repr=False, compare=False)

    @property
    def primary(self) -> Literal["proof", "code"]:
        """The field the submitter wrote the proof in (`proof` or `code`)."""
        return "proof" if "proof" in self.sources else "code"

    def _index(self, name: str, text: str) -> _Lines:
        if name not in self._lines:
            self._lines[name] = _Lines(text)
        return self._lines[name]

    def locate(self, line: int, column: int, *, end: bool = False) -> SourcePosition | None:
        """Where assembled (line, column) came from; None for line 0 ("no position") and for text
        proofgate added. `end=True` reads it as an exclusive end (it may sit at a span's end)."""
        offset = self._index("", self.text).offset(line, column)
        if offset is None:
            return None
        chosen: Span | None = None
        if end:  # an exclusive end sits just past the span it closes
            chosen = next((s for s in self.spans if s.end == offset and s.end > s.start), None)
        if chosen is None:
            chosen = next((s for s in self.spans if s.start <= offset < s.end), None)
        if chosen is None and offset == len(self.text):  # the end of the file
            chosen = next((s for s in reversed(self.spans) if s.end == offset), None)
        if chosen is None:
            return None
        source = self.sources[chosen.field]
        source_line, source_column = self._index(chosen.field, source).where(
            chosen.source_start + offset - chosen.start
        )
        return SourcePosition(chosen.field, source_line, source_column)

    def with_text(self, text: str) -> Assembled:
        """The same assembly with `text` (a same-length rewrite, e.g. a lowered heartbeat cap)."""
        if len(text) != len(self.text):
            raise ValueError("a rewrite must keep the assembled text's length")
        return Assembled(
            self.kind,
            text,
            self.sources,
            self.spans,
            self.statement,
            self.target,
            self.answer_holes,
            self.compile_target,
            self.target_missing,
        )


# --- reading a statement ---------------------------------------------------------------------


def _starts_command(token: Token) -> bool:
    """A command keyword, `@[`, or a known `#` command (`#s` is Mathlib notation, not one)."""
    if token.kind is TokenKind.HASH:
        return any(token.text.startswith(known) for known in HASH_KNOWN)
    return token.is_word(*COMMAND_WORDS) or (token.kind is TokenKind.SYMBOL and token.text == "@[")


def _read_declarations(code: list[Token], start: int) -> list[Declaration]:
    scopes = Scopes()
    declarations: list[Declaration] = []
    private = False
    index = start
    while index < len(code):
        token = code[index]
        if spanned := scopes.read(code, index):
            index += spanned
            continue
        if token.is_word("private"):
            private = True
            index += 1
            continue
        if token.is_word(*DECLARATION_WORDS) and not is_attribute_use(code, index):
            declaration, index = _read_declaration(code, index, scopes, private)
            declarations.append(declaration)
            private = False
            continue
        if _starts_command(token) and not token.is_word(*MODIFIER_WORDS) and token.text != "@[":
            private = False
        index += 1
    return declarations


def _read_declaration(
    code: list[Token], index: int, scopes: Scopes, private: bool
) -> tuple[Declaration, int]:
    keyword = code[index].text
    index += 1
    declared: str | None = None
    name: str | None = None
    candidate = code[index] if index < len(code) else None
    if (
        keyword != "example"
        and candidate is not None
        and candidate.kind is TokenKind.IDENT
        and not _starts_command(candidate)
    ):
        declared = candidate.name
        name = scopes.full_name(candidate.parts)
        index += 1
    signature: list[str] = []
    depth, has_value = 0, False
    while index < len(code):  # the signature, up to `:=` (none: `| pattern` equations, `where`)
        token = code[index]
        if depth == 0 and _starts_command(token):
            break
        index += 1
        if depth == 0 and token.text == ":=":
            has_value = True
            break
        depth = nesting(token, depth)
        if token.kind is TokenKind.IDENT:
            signature.append(token.name)
    body: list[Token] = []
    depth = 0
    while has_value and index < len(code):  # the value, up to the next command
        token = code[index]
        if depth == 0 and _starts_command(token):
            break
        depth = nesting(token, depth)
        body.append(token)
        index += 1
    proof_start = body[0].start if body else None
    proof_end = body[-1].end if body else None
    words = [token.text for token in body]
    is_sorry = words in (["sorry"], ["by", "sorry"], ["(", "sorry", ")"])
    declaration = Declaration(
        keyword, name, declared, private, proof_start, proof_end, is_sorry, tuple(signature)
    )
    return declaration, index


def _declarations(text: str) -> tuple[Header, list[Declaration]]:
    tokens = tokenize(text)
    header = read_header(tokens)
    return header, _read_declarations([token for token in tokens if token.is_code], header.size)


def _named(theorems: list[Declaration], target: str) -> list[Declaration]:
    """The theorems `target` names: by full name, or as declared."""
    return [d for d in theorems if target in (d.name, d.declared)]


def parse_statement(text: str, *, target: str | None = None) -> Statement:
    """Read a locked statement; `SubmissionError(field=...)` says what is wrong with its shape."""
    header, declarations = _declarations(text)
    theorems = [d for d in declarations if d.keyword in THEOREM_WORDS and d.name is not None]
    if target is not None:
        matches = _named(theorems, target)
        if len(matches) != 1:
            known = ", ".join(d.name for d in theorems if d.name) or "none"
            raise SubmissionError(
                f"the statement has {'no' if not matches else 'more than one'} theorem named "
                f"{target!r} "
                f"(its theorems: {known}); give the target's full name",
                field="target",
            )
        chosen = matches[0]
    elif theorems:
        chosen = theorems[-1]
    else:
        raise SubmissionError(
            "the statement has no named `theorem` or `lemma` to prove: end it with "
            "`theorem name ... := by sorry`",
            field="statement",
        )
    if chosen.private:
        raise SubmissionError(
            f"the target {chosen.name} is `private`, so it has no stable name to check: "
            "drop `private`",
            field="statement",
        )
    if not chosen.is_sorry:
        raise SubmissionError(
            f"the statement's target {chosen.name} must be proved by `sorry` (or `by sorry`) "
            "alone; "
            "the submission supplies the proof",
            field="statement",
        )
    mentioned = set(chosen.signature) | {name.rsplit(".", 1)[-1] for name in chosen.signature}
    holes = tuple(
        d.name
        for d in declarations
        if d is not chosen
        and d.keyword in _HOLE_WORDS
        and d.is_sorry
        and d.name is not None
        and (
            d.name in mentioned
            or (d.declared or "") in mentioned
            or d.name.rsplit(".", 1)[-1] in mentioned
        )
    )
    return Statement(text, header, tuple(declarations), chosen, holes)


# --- assembling ------------------------------------------------------------------------------


def _resolve_holes(statement: Statement, requested: list[str]) -> tuple[str, ...]:
    by_name: dict[str, str] = {}
    for declaration in statement.declarations:
        if declaration.name in statement.holes:
            by_name[declaration.name] = declaration.name
            if declaration.declared:
                by_name.setdefault(declaration.declared, declaration.name)
    resolved: list[str] = []
    for name in requested:
        if name not in by_name:
            holes = ", ".join(statement.holes) or "none"
            raise SubmissionError(
                f"{name!r} is not an answer hole of the statement (a `def`/`abbrev ... := sorry` "
                "its "
                f"target mentions); its holes: {holes}",
                field="answer_holes",
            )
        resolved.append(by_name[name])
    missing = [hole for hole in statement.holes if hole not in resolved]
    if missing:
        raise SubmissionError(
            f"the statement leaves {', '.join(missing)} as `sorry` and its target depends on "
            "it: name "
            "it in `answer_holes` so the submission may fill it in",
            field="answer_holes",
        )
    return tuple(dict.fromkeys(resolved))


def _compile_target(code: str, target: str | None) -> tuple[str | None, str | None]:
    """A free compile's target under its full name, and why it is missing (None: it is there)."""
    if target is None:
        return None, None
    theorems = [
        d
        for d in _declarations(code)[1]
        if d.keyword in THEOREM_WORDS and d.name is not None and not d.private
    ]
    matches = _named(theorems, target)
    if len(matches) == 1:
        return matches[0].name, None
    known = ", ".join(dict.fromkeys(d.name for d in theorems if d.name)) or "none"
    which = "no" if not matches else "more than one"
    return target, (
        f"the code has {which} public theorem named {target} (its theorems: {known}): "
        "name one of them, by its full name if two share a short name"
    )


def assemble(submission: Submission) -> Assembled:
    """The file to check for `submission`, with its position map. Raises `SubmissionError`."""
    if submission.statement is None:
        code = submission.code or ""
        target, missing = _compile_target(code, submission.target)
        whole = (Span(0, len(code), "code", 0),)
        return Assembled(
            "compile", code, {"code": code}, whole, compile_target=target, target_missing=missing
        )
    statement = parse_statement(submission.statement, target=submission.target)
    holes = _resolve_holes(statement, submission.answer_holes)
    sources: dict[SourceField, str] = {"statement": statement.text}
    spans: tuple[Span, ...]
    if submission.proof is not None:
        if holes:
            raise SubmissionError(
                "this statement has answer holes; a `proof` cannot fill them in: submit the whole "
                "file as `code`",
                field="proof",
            )
        if not submission.proof.strip():
            raise SubmissionError(
                "the proof is empty: give a tactic block (`by ...`) or a term", field="proof"
            )
        start, end = statement.target.proof_start, statement.target.proof_end
        assert start is not None and end is not None  # is_sorry implies a value
        proof = submission.proof
        text = statement.text[:start] + proof + statement.text[end:]
        sources["proof"] = proof
        spans = (
            Span(0, start, "statement", 0),
            Span(start, start + len(proof), "proof", 0),
            Span(start + len(proof), len(text), "statement", end),
        )
    else:
        code = submission.code or ""
        sources["code"] = code
        header_end = statement.header.end
        if read_header(iter_tokens(code)).commands or not header_end:  # its own header, or none
            text, spans = code, (Span(0, len(code), "code", 0),)
        else:
            header = statement.text[:header_end] + "\n"
            text = header + code
            spans = (
                Span(0, header_end, "statement", 0),
                Span(len(header), len(text), "code", 0),
            )
    return Assembled("check", text, sources, spans, statement, statement.target_name, holes)
