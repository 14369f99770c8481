"""The failure-mode report renders from a fixture results file: the HTML parses and holds every
section, the PNGs exist and are real pictures, the Markdown links them."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proofgate.cli import app
from tests.reports.sample_results import write_sample_results

pytest.importorskip("matplotlib", reason="the failure report needs the `report` extra")
from PIL import Image

VOID = {"meta", "img", "br", "link", "input", "hr"}


class _Checked(HTMLParser):
    """Collects headings, images and tables, and fails on tags closed out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.headings: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "table":
            self.tables += 1
        if tag not in VOID:
            self.open.append(tag)
        self._in_heading = tag in ("h1", "h2")

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data.strip())


def _assert_real_picture(png: bytes) -> None:
    assert png.startswith(b"\x89PNG") and len(png) > 8_000
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width >= 600 and image.height >= 250
    assert len(image.getcolors(maxcolors=1 << 24) or []) > 20  # bars, text, axes: not blank


def test_the_report_renders_from_a_results_file(tmp_path: Path) -> None:
    write_sample_results(tmp_path / "results.jsonl")
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "results.jsonl"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "400 items" in result.output

    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    parsed = _Checked()
    parsed.feed(page)
    parsed.close()
    assert parsed.open == [], f"unclosed tags: {parsed.open}"
    assert parsed.headings[0] == "How this batch failed"
    for section in (
        "Verdicts",
        "Error categories",
        "Most frequent error messages",
        "Cheats caught",
        "Time",
        "Retries",
        "Items without a verdict",
    ):
        assert section in parsed.headings
    assert parsed.tables >= 6
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "Lean.ofReduceBool" in page and "unknown identifier &#x27;…&#x27;" in page

    assert len(parsed.images) == 4
    for image in parsed.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        embedded = base64.b64decode(src.split(",", 1)[1])
        on_disk = (tmp_path / "r" / str(image["data-file"])).read_bytes()
        assert embedded == on_disk
        _assert_real_picture(on_disk)

    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    for name in ("outcomes.png", "categories.png", "times.png", "attempts.png"):
        assert f"]({name})" in summary
    assert "| axiom violations |" in summary and "## Most frequent error messages" in summary


def test_an_empty_results_file_still_renders(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("")
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "results.jsonl"), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    for name in ("outcomes.png", "times.png"):
        png = (tmp_path / "r" / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 2_000
    assert "Every item has a verdict" in (tmp_path / "r" / "report.html").read_text()


def test_a_missing_results_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "cannot read the results file" in result.output
