"""The cross-version comparison of a batch's records (reports/versions.py): only items whose
verdicts differ are listed, an unfinished item is counted apart, and records that name no
environment (format 1) or one environment only have nothing to compare."""

from __future__ import annotations

from proofgate.batch.input import BatchRecord, ItemError
from proofgate.models import Verdict, VerdictStatus
from proofgate.reports.versions import (
    compare_environments,
    render_html_section,
    render_markdown_section,
)


def _record(item: str, line: int, environment: str | None, outcome: str) -> BatchRecord:
    if outcome == "error":
        error = ItemError(kind="submission", line=line, message="unknown environment")
        return BatchRecord(id=item, environment=environment, line=line, error=error)
    verdict = Verdict(status=VerdictStatus(outcome), kind="check", reason=outcome)
    return BatchRecord(id=item, environment=environment, line=line, verdict=verdict)


def test_only_differing_items_are_listed_in_line_order() -> None:
    records = [
        _record("b", 2, "lean_v4_9_0", "failed"),
        _record("a", 1, "lean_v4_9_0", "proved"),
        _record("c", 3, "lean_v4_9_0", "timeout"),
        _record("a", 1, "default", "proved"),
        _record("b", 2, "default", "proved"),
        _record("c", 3, "default", "error"),
        _record("d", 4, "lean_v4_9_0", "proved"),  # unfinished: no record in default yet
    ]
    comparison = compare_environments(records)
    assert comparison is not None
    assert comparison.environments == ["lean_v4_9_0", "default"]
    assert [(item.id, item.outcomes) for item in comparison.differing] == [
        ("b", {"lean_v4_9_0": "failed", "default": "proved"}),
        ("c", {"lean_v4_9_0": "timeout", "default": "error:submission"}),
    ]
    assert (comparison.items, comparison.agreeing, comparison.incomplete) == (4, 2, 1)
    assert comparison.by_environment["default"]["proved"] == 2
    assert comparison.outcomes == ["error:submission", "failed", "proved", "timeout"]
    assert comparison.as_json()["differing_count"] == 2

    markdown = "\n".join(render_markdown_section(comparison))
    assert "2 of 4 items have a verdict that differs between lean_v4_9_0, default" in markdown
    assert "1 lack a record in some environment" in markdown
    assert "| `b` | failed | proved |" in markdown and "`a`" not in markdown
    html = render_html_section(comparison)
    assert "<code>c</code></td><td>timeout</td><td>error:submission</td>" in html
    assert "<code>a</code>" not in html and "<code>d</code>" not in html


def test_an_unfinished_item_that_differs_shows_its_missing_environment() -> None:
    records = [
        _record("a", 1, "default", "proved"),
        _record("a", 1, "x", "failed"),
        _record("b", 2, "default", "proved"),
        _record("b", 2, "x", "proved"),
        _record("a", 1, "y", "proved"),
    ]
    comparison = compare_environments(records)
    assert comparison is not None and comparison.incomplete == 1
    (item,) = comparison.differing
    assert [item.outcome(name) for name in ("default", "x", "y")] == ["proved", "failed", "proved"]
    assert item.outcome("elsewhere") == "-"
    assert compare_environments([_record("b", 2, "default", "proved")]) is None


def test_format_1_records_have_nothing_to_compare() -> None:
    records = [_record("a", 1, None, "proved"), _record("b", 2, None, "failed")]
    assert compare_environments(records) is None
