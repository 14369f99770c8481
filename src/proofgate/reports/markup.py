"""Text set into the reports' HTML pages and Markdown tables, escaped once for each."""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Sequence

__all__ = ["html_text", "markdown_cell", "table_lines"]


def html_text(value: object) -> str:
    """`value` as HTML text or an attribute's value (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def markdown_cell(value: object) -> str:
    """`value` as one cell of a Markdown table: a `|` escaped, a newline a space."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table_lines(
    header: Sequence[object], rows: Iterable[Sequence[object]], *, right: Collection[int] = ()
) -> list[str]:
    """A Markdown table's lines: the header, its rule (the columns numbered in `right` aligned
    right, for numbers), and a line a row. Every cell is `markdown_cell` of its value, so a
    caller passes plain values and no `|` or newline in one breaks the table."""

    def line(cells: Iterable[object]) -> str:
        return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"

    rule = "|" + "".join("---:|" if column in right else "---|" for column in range(len(header)))
    return [line(header), rule, *(line(row) for row in rows)]
