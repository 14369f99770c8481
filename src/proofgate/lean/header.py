"""Split a submission into its header (the leading `import`s) and body, and map positions back.

The pool elaborates the header once per worker and runs every body from that header's env, so the
REPL numbers the body's lines from 1. `split_header` records how many of the submitter's lines
were taken off (`header_lines`), and `map_body_positions` adds them back to every position in a
reply. Whole lines are removed, except when code follows the last import on the same line: then the
body's first line is padded with spaces, so columns (which the REPL counts in codepoints, like
Python's `str`) never need mapping.

Header = the leading `import` commands only (DESIGN.md, "Settled questions"); blank lines and
comments may come before and between them. `open`, `set_option` and everything else is body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ImportSite",
    "SplitSource",
    "map_body_positions",
    "map_header_positions",
    "split_header",
]

_KEYWORD = "import"
_HEADER_COLUMN = len(_KEYWORD) + 1  # where the module name starts in a normalized `import M` line


@dataclass(frozen=True)
class ImportSite:
    """Where one `import` stood in the submitter's text: 1-based line, 0-based codepoint columns."""

    module: str
    line: int
    keyword_column: int
    module_column: int


@dataclass(frozen=True)
class SplitSource:
    """A submission cut into the header the worker elaborates once and the body run per request."""

    imports: tuple[str, ...]
    body: str
    header_lines: int
    sites: tuple[ImportSite, ...] = ()

    @property
    def header(self) -> str:
        """The normalized header, one `import` a line (empty when there are no imports)."""
        return "\n".join(f"{_KEYWORD} {module}" for module in self.imports)


def _is_ident_char(char: str) -> bool:
    return char.isalnum() or char in "_'!?"


class _Scanner:
    """Walks Lean source over whitespace, comments and `import` commands, as Lean's header parser does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_trivia(self, *, stop_at_newline: bool = False) -> bool:
        """Skip whitespace and comments; False if an unterminated block comment runs to the end."""
        text, length = self.text, len(self.text)
        while self.pos < length:
            char = text[self.pos]
            if char == "\n" and stop_at_newline:
                return True
            if char in " \t\r\n":
                self.pos += 1
            elif text.startswith("--", self.pos):
                end = text.find("\n", self.pos)
                self.pos = length if end < 0 else end
            elif text.startswith("/-", self.pos) and text[self.pos + 2 : self.pos + 3] not in (
                "-",
                "!",
            ):
                if not self._skip_block_comment():
                    return False
            else:
                return True
        return True

    def _skip_block_comment(self) -> bool:
        """Block comments nest in Lean: `/- /- -/ -/` is one comment."""
        depth, self.pos = 1, self.pos + 2
        while self.pos < len(self.text):
            if self.text.startswith("/-", self.pos):
                depth, self.pos = depth + 1, self.pos + 2
            elif self.text.startswith("-/", self.pos):
                depth, self.pos = depth - 1, self.pos + 2
                if depth == 0:
                    return True
            else:
                self.pos += 1
        return False

    def read_import(self) -> tuple[str, int, int] | None:
        """`(module, keyword offset, module offset)` if an `import` command starts here, else None."""
        start = self.pos
        after = start + len(_KEYWORD)
        if not self.text.startswith(_KEYWORD, start) or after >= len(self.text):
            return None
        if _is_ident_char(self.text[after]) or self.text[after] == ".":
            return None  # `imports`, `import.foo`: an identifier, not the keyword
        self.pos = after
        if not self.skip_trivia():
            self.pos = start
            return None
        module_start = self.pos
        module = self._read_module_name()
        if not module:
            self.pos = start
            return None
        return module, start, module_start

    def _read_module_name(self) -> str:
        text, begin = self.text, self.pos
        while self.pos < len(text):
            char = text[self.pos]
            if char == "«":
                end = text.find("»", self.pos)
                if end < 0:
                    break
                self.pos = end + 1
            elif _is_ident_char(char) or (char == "." and self.pos > begin):
                self.pos += 1
            else:
                break
        return text[begin : self.pos].rstrip(".")


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return line, column


def split_header(code: str) -> SplitSource:
    """Cut `code` after its last leading `import`; the body keeps the submitter's columns."""
    scanner = _Scanner(code)
    sites: list[ImportSite] = []
    end_of_last = 0
    while scanner.skip_trivia():
        found = scanner.read_import()
        if found is None:
            break
        module, keyword_at, module_at = found
        line, keyword_column = _line_and_column(code, keyword_at)
        module_line, module_column = _line_and_column(code, module_at)
        if module_line != line:
            module_column = keyword_column + _HEADER_COLUMN
        sites.append(ImportSite(module, line, keyword_column, module_column))
        end_of_last = scanner.pos
    if not sites:
        return SplitSource(imports=(), body=code, header_lines=0)
    # Drop the rest of the last import's line if it holds only trivia; else keep it, padded.
    scanner.pos = end_of_last
    closed = scanner.skip_trivia(stop_at_newline=True)
    last_line, last_column = _line_and_column(code, end_of_last)
    if closed and (scanner.pos >= len(code) or code[scanner.pos] == "\n"):
        rest = code[scanner.pos + 1 :] if scanner.pos < len(code) else ""
        return SplitSource(tuple(s.module for s in sites), rest, last_line, tuple(sites))
    body = " " * last_column + code[end_of_last:]
    return SplitSource(tuple(s.module for s in sites), body, last_line - 1, tuple(sites))


def _map_positions(value: Any, move: Any) -> Any:
    """A copy of `value` with every `{"line": int, "column": int}` object passed through `move`."""
    if isinstance(value, dict):
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
    if isinstance(value, list):
        return [_map_positions(item, move) for item in value]
    return value


def map_body_positions(reply: dict[str, Any], header_lines: int) -> dict[str, Any]:
    """Positions in a body reply, moved to the submitter's lines. Line 0 means "no position"."""
    if header_lines == 0:
        return reply

    def move(line: int, column: int) -> tuple[int, int]:
        return (line + header_lines if line > 0 else line), column

    return _map_positions(reply, move)


def map_header_positions(reply: dict[str, Any], split: SplitSource) -> dict[str, Any]:
    """Positions in the normalized header's reply, moved to where each `import` stood."""
    if not split.sites:
        return reply

    def move(line: int, column: int) -> tuple[int, int]:
        if line <= 0:
            return line, column
        site = split.sites[min(line, len(split.sites)) - 1]
        if column >= _HEADER_COLUMN:
            return site.line, site.module_column + column - _HEADER_COLUMN
        return site.line, site.keyword_column + column

    return _map_positions(reply, move)
