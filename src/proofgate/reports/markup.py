"""Text set into the reports' HTML pages and Markdown tables, escaped once for each."""

from __future__ import annotations

import html

__all__ = ["html_text", "markdown_cell"]


def html_text(value: object) -> str:
    """`value` as HTML text or an attribute's value (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def markdown_cell(value: object) -> str:
    """`value` as one cell of a Markdown table: a `|` escaped, a newline a space."""
    return str(value).replace("|", "\\|").replace("\n", " ")
