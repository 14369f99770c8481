"""The state one policy scan shares between its rules, and how it walks the tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from proofgate.lean.lexer import Token, TokenKind, tokenize
from proofgate.lean.syntax import DECLARATION_WORDS, TERM_FOLLOWS
from proofgate.models import Violation
from proofgate.verify.policy.config import PolicyConfig
from proofgate.verify.rules import BIDI, LINE_SEPARATORS, MAX_SCAN, MAX_VIOLATIONS

__all__ = ["ScanBase"]

#: The characters `_control_rule` may refuse (not printable ASCII, not a newline), found by regex
#: rather than by a Python loop over every character.
_SUSPECT_CHARACTER = re.compile("[^\x20-\x7e\n]")


def _control_rule(char: str) -> str | None:
    if char in BIDI:
        return "bidi-control"
    code = ord(char)
    if (code < 0x20 and char not in "\t\n\r") or 0x7F <= code <= 0x9F or char in LINE_SEPARATORS:
        return "control-character"
    return None


#: Words after which a name is bound, not an option set.
_BINDING_WORDS = DECLARATION_WORDS | {"let", "have", "set", "letI", "haveI"}


class ScanBase:
    """One pass over one text's tokens: what the rules found so far, and where they are."""

    def __init__(self, text: str, config: PolicyConfig) -> None:
        self.text = text
        self.config = config
        self.code = [token for token in tokenize(text) if token.is_code]
        self.violations: list[Violation] = []
        self.notes: list[Violation] = []
        self.rewrites: list[tuple[int, int, str]] = []
        self._seen: set[tuple[str, int, int]] = set()
        self._mentions_io: bool | None = None
        self._aesop_phase: set[int] = set()  # token starts where `unsafe` is Aesop's rule phase
        # How far each kind of bracketed scan has read: a construct nested inside one already
        # read is not read again (so unclosed brackets cost linear time, not quadratic).
        self._scanned: dict[str, int] = {"attribute": -1, "aesop": -1, "eval": -1}
        self._meta_mention: Token | Literal[False] | None = None  # None: not looked for yet

    def refuse(self, rule: str, token: Token, message: str) -> None:
        self.refuse_at(rule, token.line, token.column, message)

    def refuse_at(self, rule: str, line: int, column: int, message: str) -> None:
        key = (rule, line, column)
        if key not in self._seen and len(self.violations) < MAX_VIOLATIONS:
            self._seen.add(key)
            self.violations.append(Violation(rule=rule, line=line, column=column, message=message))

    def _characters(self) -> None:
        """Refuse control characters. The line and its start advance with the scan: each stretch
        of text between two suspect characters is read once, so the pass is linear even on one
        very long line (a search back to the text's start for every non-ASCII character was not)."""
        text, line, line_start, scanned = self.text, 1, 0, 0
        for match in _SUSPECT_CHARACTER.finditer(text):
            offset = match.start()
            newlines = text.count("\n", scanned, offset)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", scanned, offset) + 1
            scanned = offset
            char = match.group()
            if rule := _control_rule(char):
                what = "bidirectional control" if rule == "bidi-control" else "control"
                self.refuse_at(
                    rule,
                    line,
                    offset - line_start,
                    f"{what} character U+{ord(char):04X}: "
                    "it can make the text read differently from what Lean parses; delete it",
                )

    def _next(self, index: int) -> Token | None:
        return self.code[index] if 0 <= index < len(self.code) else None

    def _window(self, index: int) -> Iterator[Token]:
        """At most MAX_SCAN tokens from `index` (a bracketed construct longer than that is refused
        by its caller, so a file of unclosed brackets costs linear time, not quadratic)."""
        for position in range(index, min(len(self.code), index + MAX_SCAN)):
            yield self.code[position]

    def _at_command_start(self, index: int) -> bool:
        """First in the file, after `in`, or first on its line (at any column: a command or a
        tactic) after something that ends a term (not after `:`, `=`, `(`, ...: there a `#` word
        is notation such as `#s`)."""
        previous, token = self._next(index - 1), self.code[index]
        if previous is None or previous.is_word("in"):
            return True
        if previous.end_line == token.line or previous.is_word(*TERM_FOLLOWS):
            return False
        return previous.kind is not TokenKind.SYMBOL or previous.text in (")", "]", "}", "⟩")

    def _glued(self, index: int, symbol: str) -> bool:
        following = self._next(index + 1)
        if following is None:
            return False
        return following.text == symbol and following.start == self.code[index].end

    def _binds_own_name(self, index: int) -> bool:
        """The name at `index` is being bound (`let native := ...`, `def oracle := ...`), so a
        `:=` after it sets no option."""
        previous = self._next(index - 1)
        return previous is not None and previous.is_word(*_BINDING_WORDS)

    def _previous_is(self, index: int, symbol: str) -> bool:
        previous = self._next(index - 1)
        return previous is not None and previous.text == symbol

    def _followed_by(self, index: int, symbol: str) -> bool:
        following = self._next(index + 1)
        return following is not None and following.text == symbol

    # --- a number option against its cap ----------------------------------------------------
    def _limit(
        self, name: Token, value: Token | None, *, cap: int, rule: str, zero_ok: bool
    ) -> None:
        number = _parse_number(value.text) if value and value.kind is TokenKind.NUMBER else None
        if value is None or number is None:
            self.refuse(rule, name, f"`{name.name}` must be set to a plain number, at most {cap}")
            return
        unlimited = number == 0 and not zero_ok
        if not unlimited and number <= cap:
            return
        replacement = None if self.config.strict else self._lowered(value, cap)
        if replacement is None:
            if unlimited:
                message = f"`{name.name} 0` removes Lean's limit; use a number up to {cap}"
            else:
                message = (
                    f"`{name.name} {value.text}` is above this service's cap of {cap}; "
                    f"use at most {cap}"
                )
            self.refuse(rule, value, message)
            return
        self.rewrites.append((value.start, value.end, replacement))
        message = f"`{name.name} {value.text}` lowered to the cap, {cap}"
        self.notes.append(
            Violation(rule=rule, line=value.line, column=value.column, message=message)
        )

    def _lowered(self, value: Token, cap: int) -> str | None:
        """`cap` written where `value` stands without moving any other token: in the value's own
        width, or in full when nothing but a line comment follows it on its line (a header's
        `set_option maxHeartbeats 0`); None when neither can be done."""
        fitted = _fit(cap, len(value.text))
        if fitted is not None:
            return fitted
        line_end = self.text.find("\n", value.end)
        rest = self.text[value.end : None if line_end < 0 else line_end]
        return str(cap) if not rest.strip() or rest.lstrip().startswith("--") else None


def _parse_number(text: str) -> int | None:
    digits = text.replace("_", "")
    try:
        return int(digits, 0) if digits[:2].lower() in ("0x", "0b", "0o") else int(digits, 10)
    except ValueError:
        return None


def _fit(value: int, width: int) -> str | None:
    """`value` in at most `width` characters, padded with spaces to exactly `width` so every later
    column on the line stays put; None if it does not fit."""
    for spelling in (str(value), hex(value)):
        if len(spelling) <= width:
            return spelling + " " * (width - len(spelling))
    return None
