"""The failure-mode report as files: a self-contained HTML page (charts inlined as PNG data) and a
Markdown summary beside the chart PNGs (`proofgate report RESULTS.jsonl --out DIR`)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Set
from datetime import datetime, timezone
from pathlib import Path

from proofgate.__about__ import __version__
from proofgate.exceptions import ConfigError
from proofgate.reports.failures import CHEAT_CLASSES, FailureSummary, MessageGroup, percentile
from proofgate.reports.markup import html_text, table_lines
from proofgate.reports.plots import colour_of, draw_all
from proofgate.reports.versions import render_html_section, render_markdown_section

__all__ = ["render_html", "render_markdown_summary", "write_failure_report"]

_STAGES = (
    ("queue_ms", "waiting for a worker"),
    ("policy_ms", "policy pass"),
    ("repl_ms", "REPL run"),
    ("audit_ms", "trusted audit"),
    ("total_ms", "total"),
)
_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
       margin: 0; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 32px 60px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 34px 0 10px;
     border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
.meta { color: #616161; font-size: 13px; margin-bottom: 18px; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; }
.card { border: 1px solid #e0e0e0; border-radius: 8px; padding: 10px 14px; }
.card .n { font-size: 24px; font-weight: 600; } .card .l { color: #616161; font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eeeeee; vertical-align: top; }
table.narrow { width: auto; min-width: 360px; }
th { background: #f5f5f5; font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f5f5f5;
       padding: 1px 4px; border-radius: 3px; word-break: break-word; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0; }
.ex { color: #616161; font-size: 13px; } .none { color: #757575; font-style: italic; }
"""


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _table(
    headers: list[str],
    rows: list[list[str]],
    numeric: Set[int] = frozenset(),
    *,
    narrow: bool = False,
) -> str:
    head = "".join(
        f'<th class="num">{html_text(h)}</th>' if i in numeric else f"<th>{html_text(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    attributes = ' class="narrow"' if narrow else ""
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html_text(alt)}" data-file="{html_text(name)}">'


def _examples(group: MessageGroup) -> str:
    return "<br>".join(
        f'<span class="ex"><code>{html_text(item)}</code>: {html_text(text)}</span>'
        for item, text in group.examples
    )


def _message_rows(groups: list[MessageGroup]) -> list[list[str]]:
    return [
        [str(g.count), html_text(g.category), f"<code>{html_text(g.pattern)}</code>", _examples(g)]
        for g in groups
    ]


def _times_rows(summary: FailureSummary) -> list[list[str]]:
    rows = []
    for status, times in sorted(summary.seconds.items(), key=lambda item: -len(item[1])):
        rows.append(
            [html_text(status), str(len(times))]
            + [f"{percentile(times, q):.3f}" for q in (0.5, 0.9, 0.99)]
            + [f"{max(times):.3f}"]
        )
    return rows


def render_html(summary: FailureSummary, charts: dict[str, bytes]) -> str:
    """The whole page, with nothing fetched from elsewhere."""
    total = summary.total
    cards = [
        (total, "items"),
        (summary.successes, f"proved or compiled ({_share(summary.successes, total)})"),
        (summary.outcomes["failed"], "failed (Lean errors)"),
        (summary.cheats_caught(), "cheats caught"),
        (sum(c for o, c in summary.outcomes.items() if o.startswith("error:")), "item errors"),
        (summary.retried, "items retried"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>proofgate failure report: {html_text(Path(summary.source).name or 'batch')}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>How this batch failed</h1>",
        (
            f'<div class="meta">{html_text(summary.source)} &middot; generated '
            f"{html_text(datetime.now(timezone.utc).isoformat(timespec='seconds'))} by proofgate "
            f"{html_text(__version__)}</div>"
        ),
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="n">{html_text(n)}</div><div class="l">{html_text(label)}</div></div>'
            for n, label in cards
        )
        + "</div>",
        "<h2>Verdicts</h2>",
        _image("outcomes.png", charts["outcomes.png"], "Verdicts and item errors"),
        _table(
            ["outcome", "items", "share"],
            [
                [
                    f'<span class="dot" style="background:{colour_of(o)}"></span>{html_text(o)}',
                    str(c),
                    _share(c, total),
                ]
                for o, c in summary.outcomes.most_common()
            ],
            {1, 2},
        ),
        render_html_section(summary.versions) if summary.versions else "",
        "<h2>Error categories</h2>",
        _image("categories.png", charts["categories.png"], "Error categories"),
        "<h2>Most frequent error messages</h2>",
        (
            '<p class="ex">Names in quotes and numbers are blanked so that the same mistake '
            "groups together; the examples show the original first line.</p>"
        ),
        _table(["count", "category", "message", "examples"], _message_rows(summary.messages), {0})
        if summary.messages
        else '<p class="none">No Lean errors.</p>',
        "<h2>Cheats caught</h2>",
        _cheats_html(summary),
        "<h2>Time</h2>",
        _image("times.png", charts["times.png"], "Time per check"),
        _table(
            ["verdict", "checks", "p50 s", "p90 s", "p99 s", "max s"],
            _times_rows(summary),
            {1, 2, 3, 4, 5},
        ),
        _table(
            ["stage", "mean ms"],
            [[html_text(label), f"{summary.stage_ms.get(key, 0.0):.1f}"] for key, label in _STAGES],
            {1},
            narrow=True,
        ),
        (
            f'<p class="ex">{summary.cached} of {summary.verdicts} verdicts came from the result '
            "cache and are left out of the times above.</p>"
        ),
        "<h2>Retries</h2>",
        _image("attempts.png", charts["attempts.png"], "Checks started per item"),
        "<h2>Items without a verdict</h2>",
        _table(
            ["count", "kind (field)", "message", "examples"],
            _message_rows(summary.item_errors),
            {0},
        )
        if summary.item_errors
        else '<p class="none">Every item has a verdict.</p>',
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _cheats_html(summary: FailureSummary) -> str:
    rows = []
    for name in CHEAT_CLASSES:
        found = summary.cheats.get(name)
        if not found:
            rows.append([html_text(name), "0", '<span class="none">none</span>'])
            continue
        detail = ", ".join(
            f"<code>{html_text(k)}</code> &times;{v}" for k, v in found.most_common(8)
        )
        rows.append([html_text(name), str(summary.cheat_items[name]), detail])
    return _table(["class", "items", "which"], rows, {1})


def _md_code(value: object) -> str:
    """An inline code span that survives backticks inside it (a table cell: `table_lines`
    escapes it)."""
    text = str(value)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _message_example(group: MessageGroup) -> str:
    """The first item a message was seen in, with its message as that item printed it."""
    if not group.examples:
        return ""
    item, message = group.examples[0]
    return f"`{item}`: {message}"


def _cheats_found(summary: FailureSummary, name: str) -> str:
    found = summary.cheats.get(name) or Counter()
    return ", ".join(f"{_md_code(k)} ×{v}" for k, v in found.most_common(8)) if found else "none"


def render_markdown_summary(summary: FailureSummary) -> str:
    """The report's numbers and tables in Markdown, with the charts linked as files."""
    total = summary.total
    lines = [
        "# How this batch failed",
        "",
        (
            f"Source: `{summary.source}`; {total} items, {summary.successes} proved or compiled "
            f"({_share(summary.successes, total)}), {summary.cheats_caught()} cheats caught, "
            f"{summary.retried} retried."
        ),
        "",
        "## Verdicts",
        "",
        "![Verdicts](outcomes.png)",
        "",
        *table_lines(
            ["outcome", "items", "share"],
            [[o, c, _share(c, total)] for o, c in summary.outcomes.most_common()],
            right={1, 2},
        ),
    ]
    if summary.versions:
        lines += ["", *render_markdown_section(summary.versions)]
    lines += ["", "## Error categories", "", "![Error categories](categories.png)", ""]
    lines += table_lines(["category", "items"], summary.categories.most_common(), right={1})
    lines += ["", "## Most frequent error messages", ""]
    lines += table_lines(
        ["count", "category", "message", "example"],
        [
            [group.count, group.category, _md_code(group.pattern), _message_example(group)]
            for group in summary.messages
        ],
        right={0},
    )
    lines += ["", "## Cheats caught", ""]
    lines += table_lines(
        ["class", "items", "which"],
        [[name, summary.cheat_items[name], _cheats_found(summary, name)] for name in CHEAT_CLASSES],
        right={1},
    )
    lines += ["", "## Time", "", "![Time per check](times.png)", ""]
    lines += table_lines(
        ["verdict", "checks", "p50 s", "p90 s", "p99 s", "max s"],
        _times_rows(summary),
        right={1, 2, 3, 4, 5},
    )
    lines += ["", "## Retries", "", "![Checks started per item](attempts.png)", ""]
    lines += table_lines(
        ["checks started", "items"],
        [[t, summary.attempts[t]] for t in sorted(summary.attempts)],
        right={0, 1},
    )
    if summary.item_errors:
        lines += ["", "## Items without a verdict", ""]
        lines += table_lines(
            ["count", "kind", "message"],
            [[g.count, g.category, g.pattern] for g in summary.item_errors],
            right={0},
        )
    return "\n".join(lines) + "\n"


def write_failure_report(summary: FailureSummary, out_dir: Path) -> list[Path]:
    """Write report.html, summary.md, the chart PNGs and, for a run in several environments,
    versions.json (`VersionComparison.as_json`) into `out_dir`; return their paths."""
    charts = draw_all(summary)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, png in charts.items():
            (out_dir / name).write_bytes(png)
            written.append(out_dir / name)
        (out_dir / "report.html").write_text(render_html(summary, charts), encoding="utf-8")
        (out_dir / "summary.md").write_text(render_markdown_summary(summary), encoding="utf-8")
        if summary.versions:
            versions = out_dir / "versions.json"
            versions.write_text(json.dumps(summary.versions.as_json(), indent=2) + "\n", "utf-8")
            written.append(versions)
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out_dir}: {exc}") from exc
    return [out_dir / "report.html", out_dir / "summary.md", *written]
