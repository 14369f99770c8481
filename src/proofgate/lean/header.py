"""Split a submission into its header and body, and map positions back.

The header is what Lean's header parser reads (`proofgate.lean.syntax.read_header`, which cites
Lean's grammar): `module`, `prelude` and the leading imports, with their modifiers (`public meta
import all M`); comments may stand before and between them. Everything else (`open`, `set_option`,
`public section`, ...) is body (DESIGN.md, "Settled questions": the header is the leading import
lines; `module` and `prelude` are read as Lean reads them, so the body never starts with one).

The header is given to Lean normalized, one command a line with its words one space apart and its
modifiers kept: `import all M` opens M's private scope and `public`/`meta` change what is exported
and which code is loaded, so it is not the environment `import M` builds, and the pool keys its
workers by (environment, this text). `SplitSource.imports` names the imported modules alone, as
written (`M` for `import all M`): what an import allowlist checks.

The pool elaborates the header once per worker and runs every body from that header's env, so the
REPL numbers the body's lines from 1. `split_header` records how many of the submitter's lines
were taken off (`header_lines`), and `map_body_positions` adds them back to every position in a
reply. Whole lines are removed, except when code follows the header's last token on its line (or
a block comment starting there runs past it): then the body's first line is padded with spaces, so
columns (which the REPL counts in codepoints, like Python's `str`) never need mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from proofgate.lean.lexer import TokenKind, iter_tokens
from proofgate.lean.reply import ReplReply
from proofgate.lean.syntax import HeaderCommand, read_header

__all__ = [
    "HeaderSite",
    "SplitSource",
    "map_body_positions",
    "map_header_positions",
    "split_header",
]


@dataclass(frozen=True)
class HeaderSite:
    """Where one header command stood: its normalized line, and for each of its words the column
    in that line and the place in the submitter's text (1-based line, 0-based codepoint column)."""

    text: str
    words: tuple[tuple[int, int, int], ...]  # (column in `text`, line, column)

    @classmethod
    def of(cls, command: HeaderCommand) -> HeaderSite:
        words, column = [], 0
        for token in command.tokens:
            words.append((column, token.line, token.column))
            column += len(token.text) + 1
        return cls(command.text, tuple(words))

    def locate(self, column: int) -> tuple[int, int]:
        """The submitter's (line, column) for `column` of the normalized line: in the word it falls
        in (or the space after it), moved to where that word stood."""
        start, line, at = next(
            (word for word in reversed(self.words) if word[0] <= column), self.words[0]
        )
        return line, at + column - start


@dataclass(frozen=True)
class SplitSource:
    """A submission cut into the header the worker elaborates once and the body run per request."""

    imports: tuple[str, ...]
    body: str
    header_lines: int
    sites: tuple[HeaderSite, ...] = ()

    @property
    def header(self) -> str:
        """The normalized header, one command a line (empty when there is none)."""
        return "\n".join(site.text for site in self.sites)


def _only_comments(text: str) -> bool:
    """`text` (the rest of a line) holds nothing but whitespace and comments that close in it."""
    return all(
        token.kind is TokenKind.LINE_COMMENT
        or (token.kind is TokenKind.BLOCK_COMMENT and token.terminated)
        for token in iter_tokens(text)
    )


def split_header(code: str) -> SplitSource:
    """Cut `code` after its header; the body keeps the submitter's lines and columns. Only the
    header (and the rest of its last line) is read, however long the body is."""
    header = read_header(iter_tokens(code))
    if not header.commands:
        return SplitSource(imports=(), body=code, header_lines=0)
    imports = tuple(module.text for module in header.modules)
    sites = tuple(HeaderSite.of(command) for command in header.commands)
    last = header.commands[-1].tokens[-1]
    newline = code.find("\n", last.end)
    rest = code[last.end :] if newline < 0 else code[last.end : newline]
    if _only_comments(rest):  # drop the rest of the last line
        body = "" if newline < 0 else code[newline + 1 :]
        return SplitSource(imports, body, last.end_line, sites)
    body = " " * last.end_column + code[last.end :]  # keep it, padded to its columns
    return SplitSource(imports, body, last.end_line - 1, sites)


#: Moves one (line, column) position.
_Move = Callable[[int, int], tuple[int, int]]


def _map_positions(value: object, move: _Move) -> object:
    """A copy of `value` with every `{"line": int, "column": int}` object passed through `move`."""
    if isinstance(value, dict):
        return _map_object(value, move)
    if isinstance(value, list):
        return [_map_positions(item, move) for item in value]
    return value


def _map_object(value: Mapping[str, Any], move: _Move) -> dict[str, Any]:
    """`_map_positions` of one JSON object."""
    line, column = value.get("line"), value.get("column")
    if (
        isinstance(line, int)
        and isinstance(column, int)
        and not isinstance(line, bool)
        and not isinstance(column, bool)
    ):
        mapped = dict(value)
        mapped["line"], mapped["column"] = move(line, column)
        return mapped
    return {key: _map_positions(item, move) for key, item in value.items()}


def _moved(reply: ReplReply, move: _Move) -> ReplReply:
    """`reply` with every position in it (the infotree's too) passed through `move`."""
    return ReplReply.parse(_map_object(reply.raw, move))


def map_body_positions(reply: ReplReply, header_lines: int) -> ReplReply:
    """Positions in a body reply, moved to the submitter's lines. Line 0 means "no position"."""
    if header_lines == 0:
        return reply

    def move(line: int, column: int) -> tuple[int, int]:
        return (line + header_lines if line > 0 else line), column

    return _moved(reply, move)


def map_header_positions(reply: ReplReply, split: SplitSource) -> ReplReply:
    """Positions in the normalized header's reply, moved to where each word of it stood."""
    if not split.sites:
        return reply

    def move(line: int, column: int) -> tuple[int, int]:
        if line <= 0:
            return line, column
        return split.sites[min(line, len(split.sites)) - 1].locate(column)

    return _moved(reply, move)
