"""A Lean 4 tokenizer good enough for the policy pass: it knows what is code and what is not.

It follows Lean's own tokenizer (`Lean.Parser.Basic`: `whitespace`, `finishCommentBlock`,
`strLitFnAux`, `charLitFnAux`, `identFn`, `isIdFirst`/`isIdRest`) wherever the difference matters to
a policy: nested block comments, doc comments, strings with escapes and gaps, raw strings, char
literals, `«guillemet»` names, and the code inside interpolated strings (`s!"{...}"`), which Lean
parses as terms. Positions are 1-based lines and 0-based codepoint columns, like the REPL's.

Where Lean's parser would recover from a broken literal at a place this tokenizer cannot predict
(a char literal such as `'"`, an invalid escape inside a string), the token is marked `MALFORMED`
so the policy can refuse the file: text that looks like a string here might be parsed as commands
by Lean's error recovery. So is a literal or comment Lean may read otherwise, since it takes the
longest token its table knows (which this tokenizer does not have) and decides interpolation by
the parser before a string: a char literal, comment or raw string glued to a symbol (`×'"'`,
`\\/-`), and a string whose end moves when read as interpolated. Everything else unreadable
becomes a one-character `SYMBOL`, so more of the text is inspected, never less. `tokenize` never
raises.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Token", "TokenKind", "is_id_first", "is_id_rest", "iter_tokens", "tokenize"]


class TokenKind(str, Enum):
    IDENT = "ident"  # also keywords: Lean reads `theorem` as an identifier that is a token
    NUMBER = "number"
    STRING = "string"  # "...", r"...", r#"..."#, and each literal piece of an interpolated string
    CHAR = "char"
    NAME_LITERAL = "name_literal"  # `foo, ``foo
    HASH = "hash"  # `#` glued to a word: `#eval`, `#check`, `#s`
    SYMBOL = "symbol"
    LINE_COMMENT = "line_comment"
    BLOCK_COMMENT = "block_comment"
    DOC_COMMENT = "doc_comment"  # /-- ... -/ and /-! ... -/
    MALFORMED = (
        "malformed"  # a literal Lean rejects in a way its parser recovers from unpredictably
    )

    @property
    def is_comment(self) -> bool:
        return (
            self is TokenKind.LINE_COMMENT
            or self is TokenKind.BLOCK_COMMENT
            or self is TokenKind.DOC_COMMENT
        )


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, exact text, and where it stands (offsets in codepoints)."""

    kind: TokenKind
    text: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int
    terminated: bool = True  # False: an unterminated comment, string or «name» running to the end
    parts: tuple[str, ...] = field(default=())  # IDENT: name components, guillemets removed
    quoted: bool = False  # IDENT: some component was written «like this»
    interpolated: bool = False  # STRING: a piece of an interpolated string
    problem: str = ""  # MALFORMED: what is wrong, when more is known than "malformed"

    @property
    def name(self) -> str:
        """The dotted name an identifier stands for (`«debug».skip` -> `debug.skip`)."""
        return ".".join(self.parts) if self.parts else self.text

    def is_word(self, *words: str) -> bool:
        """True for an unquoted identifier spelled exactly as one of `words` (i.e. a keyword)."""
        return self.kind is TokenKind.IDENT and not self.quoted and self.text in words

    @property
    def is_code(self) -> bool:
        kind = self.kind
        return not (
            kind is TokenKind.LINE_COMMENT
            or kind is TokenKind.BLOCK_COMMENT
            or kind is TokenKind.DOC_COMMENT
        )


# --- Lean's identifier characters (Init/Meta: isLetterLike, isSubScriptAlnum, isIdFirst/Rest) ---
# Deliberately the narrow, long-standing ranges: reading fewer characters as identifier characters
# than Lean does only splits more (so more is inspected); reading more could hide a keyword.


def _is_letter_like(code: int) -> bool:
    return (
        (0x3B1 <= code <= 0x3C9 and code != 0x3BB)  # lower Greek, but lambda
        or (0x391 <= code <= 0x3A9 and code not in (0x3A0, 0x3A3))  # upper Greek, but Pi, Sigma
        or 0x3CA <= code <= 0x3FB  # Coptic
        or 0x1F00 <= code <= 0x1FFE  # polytonic Greek
        or 0x2100 <= code <= 0x214F  # letter-like block
        or 0x1D49C <= code <= 0x1D59F  # script, double-struck, Fraktur
    )


def _is_subscript_alnum(code: int) -> bool:
    return 0x2080 <= code <= 0x2089 or 0x2090 <= code <= 0x209C or 0x1D62 <= code <= 0x1D6A


def is_id_first(char: str) -> bool:
    if not char:
        return False
    if char.isascii():
        return char.isalpha() or char == "_"
    return _is_letter_like(ord(char))


def is_id_rest(char: str) -> bool:
    if not char:
        return False
    if char.isascii():
        return char.isalnum() or char in "_'!?"
    code = ord(char)
    return _is_letter_like(code) or _is_subscript_alnum(code)


#: `is_id_rest` over ASCII, as a regex: most identifiers are read by it in one call.
_ASCII_ID_REST = re.compile(r"[A-Za-z0-9_'!?]*")
_NEWLINE = re.compile("\n")
_ASCII_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_QUOTABLE = frozenset("\\\"'rnt")  # Lean's isQuotableCharDefault
_HEX = frozenset("0123456789abcdefABCDEF")
#: Tokens after which Lean surely parses a string as interpolated (`{...}` is code). After any other
#: token it may, or may not: a term (`throwErrorAt ref "..."`), a bracket (`trace[c] "..."`).
_INTERPOLATING = frozenset({"s!", "m!", "f!", "throwError", "dbg_trace", "println!"})
#: After a `'` that is not a char literal, these could start a string or comment that Lean's
#: recovery (resuming inside the broken literal) would not see: the `'` is then MALFORMED.
_HIDING_STARTS = ('"', "\\", "«", "`")
#: What may stand right before a char literal's `'` (else it may be the end of a longer token).
_BEFORE_CHAR_LITERAL = frozenset(" \t\r\n([{⟨,")
#: What may stand right before a comment or a raw string: no token of Lean's ends with these.
_AFTER_SYMBOL_SAFE = frozenset(" \t\r\n()[]{}⟨⟩,;")
#: Interpolated strings nest (`s!"{s!"{...}"}"`); deeper than this is refused, not recursed into.
_MAX_INTERPOLATION_DEPTH = 32


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.length = len(text)
        self.pos = 0
        self.tokens: list[Token] = []
        self._interpolation_depth = 0
        self._line_starts = [0] + [match.end() for match in _NEWLINE.finditer(text)]

    def _emit(
        self,
        kind: TokenKind,
        start: int,
        end: int,
        *,
        terminated: bool = True,
        parts: tuple[str, ...] = (),
        quoted: bool = False,
        interpolated: bool = False,
        problem: str = "",
    ) -> Token:
        starts = self._line_starts
        line = bisect.bisect_right(starts, start)
        column = start - starts[line - 1]
        end_line = bisect.bisect_right(starts, end)
        end_column = end - starts[end_line - 1]
        token = Token(
            kind,
            self.text[start:end],
            start,
            end,
            line,
            column,
            end_line,
            end_column,
            terminated=terminated,
            parts=parts,
            quoted=quoted,
            interpolated=interpolated,
            problem=problem,
        )
        self.tokens.append(token)
        return token

    def _at(self, offset: int) -> str:
        return self.text[offset] if offset < self.length else ""

    # --- the main loop -----------------------------------------------------------------------
    def run(self) -> list[Token]:
        self._lex_code(stop_at_brace=False)
        return self.tokens

    def step(self) -> bool:
        """Lex the next top-level token (a string with all its pieces); False at the end."""
        text = self.text
        while self.pos < self.length and text[self.pos] in " \t\r\n":
            self.pos += 1
        if self.pos >= self.length:
            return False
        self._lex_one(text[self.pos])
        return True

    def _lex_code(self, *, stop_at_brace: bool) -> None:
        """Lex code up to the end, or (inside an interpolated string) up to its closing `}`."""
        depth = 0
        text = self.text
        while self.pos < self.length:
            char = text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
                continue
            if stop_at_brace:
                if char == "{":
                    depth += 1
                elif char == "}":
                    if depth == 0:
                        return
                    depth -= 1
            self._lex_one(char)

    def _lex_one(self, char: str) -> None:
        text, start = self.text, self.pos
        if char in _ASCII_ID_FIRST and (char != "r" or not self._raw_string_ahead(start + 1)):
            self._lex_ident(start)  # most tokens; no branch below can take an ASCII letter
            return
        nxt = self._at(start + 1)
        if char == "-" and nxt == "-":
            end = text.find("\n", start)
            self.pos = self.length if end < 0 else end
            self._emit_comment(TokenKind.LINE_COMMENT, start, closed=True)
        elif char == "/" and nxt == "-":
            doc = self._at(start + 2) in ("-", "!")
            self.pos, closed = self._finish_comment(start + (3 if doc else 2))
            kind = TokenKind.DOC_COMMENT if doc else TokenKind.BLOCK_COMMENT
            self._emit_comment(kind, start, closed=closed)
        elif char == '"':
            self._lex_string_either_way(start)
        elif char == "'" and nxt != "'":
            self._lex_char(start)
        elif char.isdigit() and char.isascii():
            self._lex_number(start)
        elif char == "`" and (is_id_first(nxt) or nxt == "«" or nxt == "`"):
            self._lex_name_literal(start)
        elif char == "r" and self._raw_string_ahead(start + 1):
            self._lex_raw_string(start)
            previous = text[start - 1] if start else " "
            if not previous.isascii() and previous not in _AFTER_SYMBOL_SAFE:
                # Lean counts more letters than `is_id_first` (Latin-1 in recent versions): after
                # one, `r` may continue a name, and then this is no raw string.
                self._malformed_last(
                    "a raw string right after a non-ASCII character Lean may read as a letter, "
                    "making `r` part of a name; put a space before it"
                )
        elif is_id_first(char) or char == "«":
            self._lex_ident(start)
        elif char == "#" and is_id_first(nxt) and nxt.isascii():
            end = start + 1
            while end < self.length and is_id_rest(text[end]):
                end += 1
            self.pos = end
            self._emit(TokenKind.HASH, start, end)
        elif char == "'" and self._quote_pair_may_part(start):
            # `''` glued to a symbol (`×''"'`: Lean reads `×'` and the char literal `'"'`), or
            # before a quote (without Mathlib's `''`, Lean's recovery skips one `'`).
            self.pos = start + 2
            self._emit(
                TokenKind.MALFORMED,
                start,
                self.pos,
                terminated=False,
                problem="`''` right after a symbol or before a quote: Lean may read one `'` as "
                "the end of a token such as `×'` and the other as a char literal's start; put "
                "spaces around it",
            )
        else:
            self.pos = start + self._symbol_length(start)
            self._emit(TokenKind.SYMBOL, start, self.pos)

    def _emit_comment(self, kind: TokenKind, start: int, *, closed: bool) -> None:
        previous = self.text[start - 1] if start else " "
        if previous in _AFTER_SYMBOL_SAFE or is_id_rest(previous):
            self._emit(kind, start, self.pos, terminated=closed)
            return
        # Glued to a symbol, the `-` or `/` may end a token Lean knows (`\/`, `//`, `<-`), and
        # then no comment starts here.
        self._emit(
            TokenKind.MALFORMED,
            start,
            self.pos,
            terminated=False,
            problem="a comment glued to a symbol: Lean may read the symbol and the comment's "
            "`/` or `-` as one token (`\\/`, `//`, `<-`), and the rest as code; put a space "
            "before it",
        )

    def _quote_pair_may_part(self, start: int) -> bool:
        """At `''`: whether Lean may read its two quotes apart."""
        previous = self.text[start - 1] if start else " "
        return previous not in _BEFORE_CHAR_LITERAL or self._at(start + 2) in ('"', "'")

    def _malformed_last(self, problem: str) -> None:
        token = self.tokens.pop()
        self._emit(TokenKind.MALFORMED, token.start, token.end, terminated=False, problem=problem)

    def _symbol_length(self, start: int) -> int:
        two = self.text[start : start + 2]
        if two in ("@[", ":=", "#[", "<-", "->", "=>", "''", "%["):
            return 2
        return 1

    # --- comments ----------------------------------------------------------------------------
    def _finish_comment(self, offset: int) -> tuple[int, bool]:
        """Lean's finishCommentBlock: `/-` nests, `-/` closes; returns (end, closed)."""
        text, nesting = self.text, 1
        while offset < self.length:
            char = text[offset]
            if char == "-" and self._at(offset + 1) == "/":
                nesting -= 1
                offset += 2
                if nesting == 0:
                    return offset, True
            elif char == "/" and self._at(offset + 1) == "-":
                nesting += 1
                offset += 2
            else:
                offset += 1
        return self.length, False

    # --- strings -----------------------------------------------------------------------------
    def _string_is_interpolated(self) -> bool:
        """`s!"..."`, `m!"..."`, `f!"..."`, `throwError "..."`: surely interpolated."""
        for token in reversed(self.tokens):
            if token.kind.is_comment:
                continue
            return token.is_word(*_INTERPOLATING)
        return False

    def _lex_string_either_way(self, start: int) -> None:
        """A string Lean may read as plain or as interpolated, as the parser before it decides
        (a notation's `interpolatedStr` argument is invisible here). With no `{` both read alike;
        otherwise its code is read as interpolated, and if the two readings end apart (`"{/-"`)
        the string is MALFORMED: what follows it depends on which one Lean takes."""
        if self._string_is_interpolated():
            self._lex_string(start, interpolated=True)
            return
        plain_end = self._plain_string_end(start)
        if plain_end is None or "{" not in self.text[start:plain_end]:
            self._lex_string(start, interpolated=False)
            return
        mark = len(self.tokens)
        self._lex_string(start, interpolated=True)
        read = self.tokens[mark:]
        if self.pos == plain_end and all(
            t.terminated and t.kind is not TokenKind.MALFORMED for t in read
        ):
            return
        del self.tokens[mark:]
        self.pos = plain_end
        self._emit(
            TokenKind.MALFORMED,
            start,
            plain_end,
            terminated=False,
            problem="this string ends elsewhere if Lean reads it as interpolated (`{` starts "
            "code) than if it reads it as plain, so what follows it depends on the parser "
            "before it: escape the braces in an `s!` string or avoid `{` here",
        )

    def _plain_string_end(self, start: int) -> int | None:
        """Where a plain string from `start` ends, or None when it has a bad escape or never ends
        (its plain reading is then MALFORMED whatever else it could be)."""
        text, offset = self.text, start + 1
        while offset < self.length:
            char = text[offset]
            if char == '"':
                return offset + 1
            if char == "\\":
                size = self._escape_length(offset, in_string=True, interpolated=False)
                if size is None:
                    return None
                offset += size
                continue
            offset += 1
        return None

    def _escape_length(self, offset: int, *, in_string: bool, interpolated: bool) -> int | None:
        """Length of the escape at the backslash at `offset`, or None if Lean rejects it."""
        char = self._at(offset + 1)
        if char in _QUOTABLE or (interpolated and char == "{"):
            return 2
        if char == "x":
            ok = all(self._at(offset + k) in _HEX for k in (2, 3)) and self._at(offset + 3) != ""
            return 4 if ok else None
        if char == "u":
            ok = (
                all(self._at(offset + k) in _HEX for k in (2, 3, 4, 5))
                and self._at(offset + 5) != ""
            )
            return 6 if ok else None
        if in_string and char == "\n":  # a string gap: backslash, newline, then spaces are skipped
            end = offset + 2
            while end < self.length and self.text[end] in " \t":
                end += 1
            return end - offset
        return None

    def _lex_string(self, start: int, *, interpolated: bool) -> None:
        text, offset = self.text, start + 1
        while offset < self.length:
            char = text[offset]
            if char == '"':
                self.pos = offset + 1
                self._emit(TokenKind.STRING, start, self.pos, interpolated=interpolated)
                return
            if char == "\\":
                size = self._escape_length(offset, in_string=True, interpolated=interpolated)
                if size is None:
                    # Lean stops at the bad escape and its parser resumes right after the
                    # backslash: lex the rest as code, the way Lean's recovery will read it.
                    self.pos = offset + 1
                    self._emit(TokenKind.MALFORMED, start, self.pos, terminated=False)
                    return
                offset += size
                continue
            if char == "{" and interpolated:
                if self._interpolation_depth >= _MAX_INTERPOLATION_DEPTH:
                    self.pos = self.length
                    self._emit(TokenKind.MALFORMED, start, self.pos, terminated=False)
                    return
                self.pos = offset + 1
                self._emit(TokenKind.STRING, start, self.pos, interpolated=True)
                self._interpolation_depth += 1
                self._lex_code(stop_at_brace=True)
                self._interpolation_depth -= 1
                if self.pos >= self.length:
                    return
                start, offset = self.pos, self.pos + 1  # the closing `}` opens the next piece
                continue
            offset += 1
        self.pos = self.length
        self._emit(TokenKind.STRING, start, self.pos, terminated=False, interpolated=interpolated)

    def _raw_string_ahead(self, offset: int) -> bool:
        while self._at(offset) == "#":
            offset += 1
        return self._at(offset) == '"'

    def _lex_raw_string(self, start: int) -> None:
        hashes = 0
        offset = start + 1
        while self._at(offset) == "#":
            hashes += 1
            offset += 1
        closing = '"' + "#" * hashes
        end = self.text.find(closing, offset + 1)
        if end < 0:
            self.pos = self.length
            self._emit(TokenKind.STRING, start, self.pos, terminated=False)
        else:
            self.pos = end + len(closing)
            self._emit(TokenKind.STRING, start, self.pos)

    def _lex_char(self, start: int) -> None:
        """`'a'`, `'\\n'`. Anything else is a lone `'` (as in `⁻¹'`) unless it could hide code."""
        nxt = self._at(start + 1)
        if nxt == "\\":
            size = self._escape_length(start + 1, in_string=False, interpolated=False)
            close = start + 1 + size if size is not None else -1
        else:
            close = start + 2 if nxt else -1
        if close > 0 and self._at(close) == "'":
            self.pos = close + 1
            glued = start > 0 and self.text[start - 1] not in _BEFORE_CHAR_LITERAL
            if glued and not (nxt.isalnum() or nxt == "_"):
                # Glued to a symbol, the `'` may end a token Lean knows (`×'`, `⊕'`, `∑'`,
                # `⁻¹'`, `]'`), and then what follows it is not this char literal. Harmless when
                # the character is a letter: then both readings take the same text (`l[i]'h'`
                # is `]'` and the name `h'`).
                self._emit(
                    TokenKind.MALFORMED,
                    start,
                    self.pos,
                    terminated=False,
                    problem="a char literal right after a symbol: Lean may read the `'` as the "
                    "end of a token such as `×'` or `∑'` and the rest as something else; put a "
                    "space before it",
                )
                return
            self._emit(TokenKind.CHAR, start, self.pos)
            return
        # Lean's charLitFnAux takes the next two characters before it reports a missing `'`, and
        # resumes after them: a string or comment starting at either reads differently there.
        hazard = any(
            self._at(offset) in _HIDING_STARTS
            or self.text.startswith(("--", "/-", 'r"', "r#"), offset)
            for offset in (start + 1, start + 2)
        )
        self.pos = start + 1
        self._emit(
            TokenKind.MALFORMED if hazard else TokenKind.SYMBOL,
            start,
            self.pos,
            terminated=not hazard,
        )

    # --- numbers, names ----------------------------------------------------------------------
    def _lex_number(self, start: int) -> None:
        text, offset = self.text, start + 1
        if text[start] == "0" and self._at(offset) in ("x", "X", "b", "B", "o", "O"):
            offset += 1
            while offset < self.length and (text[offset] in _HEX or text[offset] == "_"):
                offset += 1
        else:
            while offset < self.length and (
                (text[offset].isdigit() and text[offset].isascii()) or text[offset] == "_"
            ):
                offset += 1
            if (
                self._at(offset) == "."
                and self._at(offset + 1).isdigit()
                and self._at(offset + 1).isascii()
            ):
                offset += 1
                while offset < self.length and text[offset].isdigit() and text[offset].isascii():
                    offset += 1
            if self._at(offset) in ("e", "E"):
                probe = offset + 1 + (self._at(offset + 1) in ("+", "-"))
                if self._at(probe).isdigit() and self._at(probe).isascii():
                    offset = probe
                    while (
                        offset < self.length and text[offset].isdigit() and text[offset].isascii()
                    ):
                        offset += 1
        self.pos = offset
        self._emit(TokenKind.NUMBER, start, offset)

    def _read_ident(self, offset: int) -> tuple[int, tuple[str, ...], bool, bool]:
        """Read `part(.part)*` from `offset`: (end, parts, quoted, terminated)."""
        text = self.text
        parts: list[str] = []
        quoted = False
        while True:
            if self._at(offset) == "«":
                close = text.find("»", offset + 1)
                if close < 0:
                    parts.append(text[offset + 1 :])
                    return self.length, tuple(parts), True, False
                parts.append(text[offset + 1 : close])
                quoted = True
                offset = close + 1
            else:
                begin = offset
                offset += 1
                while True:  # ASCII runs by regex, a non-ASCII character at a time by the rules
                    offset = _ASCII_ID_REST.match(text, offset).end()  # type: ignore[union-attr]  # `*` always matches
                    if (
                        offset < self.length
                        and not text[offset].isascii()
                        and is_id_rest(text[offset])
                    ):
                        offset += 1
                        continue
                    break
                parts.append(text[begin:offset])
            after = self._at(offset + 1)
            if self._at(offset) == "." and (is_id_first(after) or after == "«"):
                offset += 1
                continue
            return offset, tuple(parts), quoted, True

    def _lex_ident(self, start: int) -> None:
        end, parts, quoted, terminated = self._read_ident(start)
        self.pos = end
        self._emit(TokenKind.IDENT, start, end, parts=parts, quoted=quoted, terminated=terminated)

    def _lex_name_literal(self, start: int) -> None:
        offset = start + 1 + (self._at(start + 1) == "`")
        if not (is_id_first(self._at(offset)) or self._at(offset) == "«"):
            self.pos = offset
            self._emit(TokenKind.SYMBOL, start, offset)
            return
        end, parts, quoted, terminated = self._read_ident(offset)
        self.pos = end
        self._emit(
            TokenKind.NAME_LITERAL, start, end, parts=parts, quoted=quoted, terminated=terminated
        )


#: Texts up to this many characters are remembered with their tokens (`_remembered_tokens`).
_REMEMBER_CHARACTERS = 32 * 1024


def tokenize(text: str) -> list[Token]:
    """Every token of `text` (comments included), in order. Never raises.

    A short text seen a moment ago is not lexed again: assembly and the policy both read a
    submission's statement, which is most of the lexing a request does."""
    if len(text) <= _REMEMBER_CHARACTERS:
        return list(_remembered_tokens(text))
    return _Lexer(text).run()


@functools.lru_cache(maxsize=8)
def _remembered_tokens(text: str) -> tuple[Token, ...]:
    return tuple(_Lexer(text).run())  # tokens are frozen: sharing them is safe


def iter_tokens(text: str) -> Iterator[Token]:
    """`tokenize(text)`'s tokens, each lexed when it is asked for: a reader that stops early (the
    header reader, `proofgate.lean.syntax.read_header`) costs what it reads, not the whole text."""
    lexer = _Lexer(text)
    given = 0
    while lexer.step():
        while given < len(lexer.tokens):
            yield lexer.tokens[given]
            given += 1


def code_tokens(tokens: list[Token]) -> Iterator[Token]:
    """The tokens that are not comments."""
    return (token for token in tokens if token.is_code)
