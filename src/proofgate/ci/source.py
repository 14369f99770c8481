"""A small Lean 4 scanner: tokens and top-level commands, enough to find theorems without Lean.

It knows comments (`--`, nested `/- -/`, doc comments), strings, char literals, `«»` names and
dotted identifiers, so nothing inside a comment or a string is ever taken for a declaration. It is
not Lean's parser: a command starts where a command keyword is the first token of its line (for
`open` and `set_option`, which tactics use too, only at column 0). `proofgate.verify` grows the
full Lean-aware lexer for the policy pass; this one stays small because CI mode needs only the
outline of a file.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

__all__ = ["Command", "Token", "normalised", "split_commands", "tokenize"]

#: Keywords that start a command when they are the first token of a line.
COMMAND_KEYWORDS = frozenset(
    {
        "abbrev", "add_decl_doc", "attribute", "axiom", "class", "def", "elab",
        "elab_rules", "end", "example", "export", "import", "include", "inductive", "infix",
        "infixl", "infixr", "initialize", "builtin_initialize", "instance", "lemma", "macro",
        "macro_rules", "mutual", "namespace", "noncomputable", "nonrec", "notation", "omit",
        "opaque", "open", "partial", "postfix", "prefix", "private", "protected", "scoped",
        "local", "section", "set_option", "simproc", "structure", "syntax", "theorem",
        "universe", "unsafe", "variable",
    }
)
#: Command keywords that tactic blocks use too (`open Foo in`, `set_option x y in`).
COLUMN_ZERO_ONLY = frozenset({"open", "set_option"})
#: Words that may precede a declaration keyword without changing what it declares.
MODIFIERS = frozenset(
    {"private", "protected", "noncomputable", "partial", "unsafe", "nonrec", "local", "scoped"}
)

_IDENT_EXTRA = "_'!?"
_CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^'\\\n])'")


@dataclass(frozen=True)
class Token:
    """One lexeme: `kind` is `ident`, `string`, `char`, `number` or `symbol`."""

    kind: str
    text: str
    start: int  # offset in the source text
    end: int
    line: int  # 1-based
    column: int  # 0-based, in codepoints
    spaced: bool  # whitespace or a comment stands before it (or it starts the file)
    first_on_line: bool


@dataclass
class Command:
    """A top-level command: its tokens, its kind (`theorem`, `namespace`, `#eval`, ...)."""

    tokens: list[Token] = field(default_factory=list)
    kind: str = ""
    keyword_index: int = 0  # index in `tokens` of the keyword that gives `kind`

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def keyword(self) -> Token:
        return self.tokens[self.keyword_index]

    def name(self) -> str | None:
        """The declared name, for declaration commands; the first word after the keyword."""
        following = self.tokens[self.keyword_index + 1 : self.keyword_index + 2]
        if following and following[0].kind == "ident":
            return following[0].text
        return None


def _is_ident_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_" or ch == "«"


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in _IDENT_EXTRA


def _skip_block_comment(text: str, index: int) -> int:
    """`index` points at `/-`; return the offset after the matching `-/` (nesting counted)."""
    depth = 0
    length = len(text)
    while index < length:
        if text.startswith("/-", index):
            depth += 1
            index += 2
        elif text.startswith("-/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    return length


def _scan_string(text: str, index: int) -> int:
    """`index` points at `"`; return the offset after the closing quote."""
    index += 1
    length = len(text)
    while index < length:
        ch = text[index]
        if ch == "\\":
            index += 2
            continue
        index += 1
        if ch == '"':
            break
    return min(index, length)


def _scan_ident(text: str, index: int) -> int:
    """A dotted identifier, each part plain or `«escaped»`."""
    length = len(text)
    while True:
        if index < length and text[index] == "«":
            close = text.find("»", index + 1)
            index = length if close < 0 else close + 1
        else:
            while index < length and _is_ident_char(text[index]):
                index += 1
        if index + 1 < length and text[index] == "." and (
            _is_ident_start(text[index + 1]) or text[index + 1].isdigit()
        ):
            index += 1
            continue
        return index


def tokenize(text: str) -> list[Token]:
    """Lex `text` into tokens; comments and whitespace are dropped (they only set `spaced`)."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    tokens: list[Token] = []
    index = 0
    length = len(text)
    spaced = True
    last_line = 0

    def emit(kind: str, end: int) -> None:
        nonlocal spaced, last_line
        line = bisect.bisect_right(line_starts, index)
        tokens.append(
            Token(kind, text[index:end], index, end, line, index - line_starts[line - 1],
                  spaced, line != last_line)
        )
        last_line = line
        spaced = False

    while index < length:
        ch = text[index]
        if ch.isspace():
            index += 1
            spaced = True
        elif text.startswith("--", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            spaced = True
        elif text.startswith("/-", index):
            index = _skip_block_comment(text, index)
            spaced = True
        elif ch == '"':
            end = _scan_string(text, index)
            emit("string", end)
            index = end
        elif ch == "'" and (match := _CHAR_LITERAL.match(text, index)):
            emit("char", match.end())
            index = match.end()
        elif _is_ident_start(ch):
            end = _scan_ident(text, index)
            emit("ident", end)
            index = end
        elif ch.isdigit():
            end = index
            while end < length and (text[end].isalnum() or text[end] in "._"):
                end += 1
            emit("number", end)
            index = end
        elif text.startswith(":=", index):
            emit("symbol", index + 2)
            index += 2
        else:
            emit("symbol", index + 1)
            index += 1
    return tokens


def _starts_command(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    if not token.first_on_line:
        return False
    if token.kind == "symbol":
        if token.text == "#":  # `#eval`, `#check`, `#print`, ...
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            return following is not None and not following.spaced and following.kind == "ident"
        if token.text == "@":  # `@[attr]` before a declaration
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            return following is not None and following.text == "[" and not following.spaced
        return False
    if token.kind != "ident" or token.text not in COMMAND_KEYWORDS:
        return False
    return token.column == 0 or token.text not in COLUMN_ZERO_ONLY


def _classify(command: Command, index: int) -> None:
    """Set `kind` to the keyword after attributes and modifiers (`#eval` for `#` commands)."""
    tokens = command.tokens
    while index < len(tokens):
        token = tokens[index]
        if token.text == "@" and index + 1 < len(tokens) and tokens[index + 1].text == "[":
            index = _skip_brackets(tokens, index + 1)
            continue
        if token.text in MODIFIERS and index + 1 < len(tokens):
            index += 1
            continue
        break
    index = min(index, len(tokens) - 1)
    token = tokens[index]
    if token.text == "#" and index + 1 < len(tokens):
        command.kind = "#" + tokens[index + 1].text
    else:
        command.kind = token.text
    command.keyword_index = index


def _only_modifiers(tokens: list[Token], index: int) -> bool:
    """True when `tokens[index:]` holds nothing but attributes and modifiers."""
    while index < len(tokens):
        if tokens[index].text == "@" and index + 1 < len(tokens) and tokens[index + 1].text == "[":
            index = _skip_brackets(tokens, index + 1)
        elif tokens[index].text in MODIFIERS:
            index += 1
        else:
            return False
    return True


def _skip_brackets(tokens: list[Token], index: int) -> int:
    """`index` points at `[`; return the index after its matching `]`."""
    depth = 0
    while index < len(tokens):
        if tokens[index].text == "[":
            depth += 1
        elif tokens[index].text == "]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def split_commands(tokens: list[Token]) -> list[Command]:
    """Group tokens into top-level commands; `open X in` and the like join the command they prefix."""
    commands: list[Command] = []
    current: Command | None = None
    body_starts: list[int] = []
    for index, token in enumerate(tokens):
        if current is None or _starts_command(tokens, index):
            if current is not None and current.tokens[-1].text == "in":
                body_starts[-1] = len(current.tokens)  # `open X in` prefixes this command
            elif current is not None and _only_modifiers(current.tokens, body_starts[-1]):
                pass  # `@[simp]` or `private` on a line of its own: same command
            else:
                if current is not None:
                    commands.append(current)
                current = Command()
                body_starts.append(0)
        current.tokens.append(token)
    if current is not None:
        commands.append(current)
    for command, body_start in zip(commands, body_starts, strict=True):
        _classify(command, body_start)
    return commands


def normalised(tokens: list[Token]) -> str:
    """Tokens joined with one space wherever whitespace or a comment stood: the text a hash locks.

    `lemma` is written `theorem` (Mathlib's `lemma` is the same command).
    """
    parts: list[str] = []
    for token in tokens:
        if parts and token.spaced:
            parts.append(" ")
        text = "theorem" if token.kind == "ident" and token.text == "lemma" else token.text
        parts.append(text)
    return "".join(parts)
