"""Top-level commands of a Lean 4 file, enough to find theorems without Lean.

Tokens come from proofgate's Lean-aware lexer (`proofgate.lean.lexer`: comments, nested
`/- -/`, strings, char literals, `«»` names), so nothing inside a comment or a string is ever taken
for a declaration. Commands are not Lean's parser: one starts where a command word
(`proofgate.lean.syntax.COMMAND_WORDS`) is the first token of its line (for `open` and
`set_option`, which tactics use too, only at column 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proofgate.lean import lexer
from proofgate.lean.syntax import (
    ATTRIBUTE_KINDS,
    COMMAND_WORDS,
    MODIFIER_WORDS,
    TACTIC_COMMAND_WORDS,
)

__all__ = ["Command", "Token", "normalised", "skip_brackets", "split_commands", "tokenize"]

#: Words that may precede a declaration keyword without changing what it declares.
_PREFIXES = MODIFIER_WORDS | ATTRIBUTE_KINDS


@dataclass(frozen=True)
class Token:
    """One code token: `kind` is the lexer's (`ident`, `string`, `symbol`, `hash`, ...)."""

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


def tokenize(text: str) -> list[Token]:
    """The code tokens of `text` (comments dropped: they only set `spaced`)."""
    tokens: list[Token] = []
    previous_end, previous_line = 0, 0
    for token in lexer.tokenize(text):
        if not token.is_code:
            continue
        tokens.append(
            Token(
                token.kind.value,
                token.text,
                token.start,
                token.end,
                token.line,
                token.column,
                spaced=not tokens or token.start != previous_end,
                first_on_line=token.line != previous_line,
            )
        )
        previous_end, previous_line = token.end, token.end_line
    return tokens


def _starts_command(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    if not token.first_on_line:
        return False
    if token.kind == "hash" or token.text == "@[":  # `#eval`, `#check`, ...; `@[attr]`
        return True
    if token.kind != "ident" or token.text not in COMMAND_WORDS:
        return False
    return token.column == 0 or token.text not in TACTIC_COMMAND_WORDS


def _classify(command: Command, index: int) -> None:
    """Set `kind` to the keyword after attributes and modifiers (`#eval` for `#` commands)."""
    tokens = command.tokens
    while index < len(tokens):
        token = tokens[index]
        if token.text == "@[":
            index = skip_brackets(tokens, index)
            continue
        if token.text in _PREFIXES and index + 1 < len(tokens):
            index += 1
            continue
        break
    index = min(index, len(tokens) - 1)
    token = tokens[index]
    command.kind = token.text
    command.keyword_index = index


def _only_modifiers(tokens: list[Token], index: int) -> bool:
    """True when `tokens[index:]` holds nothing but attributes and modifiers."""
    while index < len(tokens):
        if tokens[index].text == "@[":
            index = skip_brackets(tokens, index)
        elif tokens[index].text in _PREFIXES:
            index += 1
        else:
            return False
    return True


def skip_brackets(tokens: list[Token], index: int) -> int:
    """`index` points at `[` or `@[`; return the index after its matching `]`."""
    depth = 0
    while index < len(tokens):
        if tokens[index].text in ("[", "@["):
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
