"""The reports' one escape for HTML text and one for a Markdown table cell (reports/markup.py),
used by the failure page, the cross-version section and the signed record's Markdown."""

from __future__ import annotations

from proofgate.reports.markup import html_text, markdown_cell, table_lines


def test_html_text_escapes_markup_and_quotes() -> None:
    assert html_text("<b a=\"1\">x & 'y'</b>") == (
        "&lt;b a=&quot;1&quot;&gt;x &amp; &#x27;y&#x27;&lt;/b&gt;"
    )
    assert html_text(3) == "3"


def test_a_markdown_cell_stays_one_cell_on_one_line() -> None:
    assert markdown_cell("a | b\nc") == "a \\| b c"
    assert markdown_cell(None) == "None"


def test_a_markdown_table_writes_each_cell_as_str_under_a_rule_as_wide_as_its_header() -> None:
    rows = [[16, None], ["[5, 4]", ""]]
    assert table_lines(["size", "of ideal"], rows) == [
        "| size | of ideal |",
        "|---|---|",
        "| 16 | None |",
        "| [5, 4] |  |",  # an empty cell keeps its two spaces
    ]


def test_a_markdown_table_escapes_each_cell_once_and_aligns_the_numbered_columns_right() -> None:
    """The bench, the failure page and the cross-version section pass plain values: the table
    escapes them (once: an already wrapped code span is escaped inside, as the reports did)."""
    lines = table_lines(["message", "count"], [["`a | b`\nnext", 3]], right={1})
    assert lines == ["| message | count |", "|---|---:|", "| `a \\| b` next | 3 |"]
