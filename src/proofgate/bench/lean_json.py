"""JSON text exactly as the Lean REPL prints it (`toString` of `Lean.Json`), for the simulated REPL.

Lean renders a `Json` value through its `Format` pretty printer at width 80: objects and arrays are
groups that stay on one line when they fit and otherwise break after each `,` with the brackets'
nesting as indentation; object keys come out in descending order (a fold over Lean's sorted map);
strings escape only `"`, `\\`, newline, carriage return and control characters, so non-ASCII text
is printed as is. The replies in the recorded transcripts re-render byte for byte (tested).
"""

from __future__ import annotations

from typing import Any

__all__ = ["lean_json_pretty", "lean_json_string"]

_TEXT, _LINE, _CAT, _NEST, _GROUP = range(5)
_FLAT, _BREAK = True, False
_LINE_DOC: tuple[int] = (_LINE,)

Doc = tuple[Any, ...]  # (kind, *payload)


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r"}
_ESCAPES.update({code: f"\\u{code:04x}" for code in range(0x20) if code not in _ESCAPES})


def lean_json_string(text: str) -> str:
    """A JSON string literal escaped the way Lean's `Json.renderString` does."""
    return '"' + text.translate(_ESCAPES) + '"'


def _bracket(left: str, items: list[Doc], right: str) -> Doc:
    """Lean's `Format.bracket`: a group whose contents are nested by the opening bracket's width."""
    joined: list[Doc] = [(_TEXT, left)]
    for index, item in enumerate(items):
        if index:
            joined.append((_TEXT, ","))
            joined.append(_LINE_DOC)
        joined.append(item)
    joined.append((_TEXT, right))
    return (_GROUP, (_NEST, len(left), (_CAT, joined)))


def _render(value: Any) -> Doc:
    if value is None:
        return (_TEXT, "null")
    if value is True:
        return (_TEXT, "true")
    if value is False:
        return (_TEXT, "false")
    if isinstance(value, int):
        return (_TEXT, str(value))
    if isinstance(value, float):
        return (_TEXT, repr(value))
    if isinstance(value, str):
        return (_TEXT, lean_json_string(value))
    if isinstance(value, list):
        return _bracket("[", [_render(item) for item in value], "]")
    if isinstance(value, dict):
        pairs = [
            (_GROUP, (_CAT, [(_TEXT, lean_json_string(key) + ":"), _LINE_DOC, _render(value[key])]))
            for key in sorted(value, reverse=True)
        ]
        return _bracket("{", pairs, "}")
    raise TypeError(f"cannot render {type(value).__name__} as Lean JSON")


def _fits(room: int, first: tuple[int, bool, Doc], stack: list[tuple[int, bool, Doc]]) -> bool:
    """Whether `first` laid out flat, plus what follows it up to the next line break, fits in `room`."""
    work = [first]
    below = len(stack) - 1
    while room >= 0:
        if not work:
            if below < 0:
                return True
            work.append(stack[below])
            below -= 1
        indent, flat, doc = work.pop()
        kind = doc[0]
        if kind == _TEXT:
            room -= len(doc[1])
        elif kind == _LINE:
            if not flat:
                return True
            room -= 1
        elif kind == _CAT:
            work.extend((indent, flat, part) for part in reversed(doc[1]))
        elif kind == _NEST:
            work.append((indent + doc[1], flat, doc[2]))
        else:  # a group inside the measured text counts as flat, as in Lean's `spaceUptoLine`
            work.append((indent, True, doc[1]))
    return False


def lean_json_pretty(value: Any, width: int = 80) -> str:
    """`toString (j : Lean.Json)`: Wadler-style layout of `value` at `width` columns."""
    out: list[str] = []
    column = 0
    stack: list[tuple[int, bool, Doc]] = [(0, _BREAK, _render(value))]
    while stack:
        indent, flat, doc = stack.pop()
        kind = doc[0]
        if kind == _TEXT:
            out.append(doc[1])
            column += len(doc[1])
        elif kind == _LINE:
            if flat:
                out.append(" ")
                column += 1
            else:
                out.append("\n" + " " * indent)
                column = indent
        elif kind == _CAT:
            stack.extend((indent, flat, part) for part in reversed(doc[1]))
        elif kind == _NEST:
            stack.append((indent + doc[1], flat, doc[2]))
        else:
            inner = doc[1]
            stack.append(
                (indent, flat or _fits(width - column, (indent, True, inner), stack), inner)
            )
    return "".join(out)
