"""The reports' one escape for HTML text and one for a Markdown table cell (reports/markup.py),
used by the failure page, the cross-version section and the signed record's Markdown."""

from __future__ import annotations

from proofgate.reports.markup import html_text, markdown_cell


def test_html_text_escapes_markup_and_quotes() -> None:
    assert html_text("<b a=\"1\">x & 'y'</b>") == (
        "&lt;b a=&quot;1&quot;&gt;x &amp; &#x27;y&#x27;&lt;/b&gt;"
    )
    assert html_text(3) == "3"


def test_a_markdown_cell_stays_one_cell_on_one_line() -> None:
    assert markdown_cell("a | b\nc") == "a \\| b c"
    assert markdown_cell(None) == "None"
