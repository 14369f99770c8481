"""Markdown for a workflow's job summary: which tests and suites did not run, and why.

    python .github/scripts/suite_summary.py TITLE JUNIT_XML [--shared DIR]

Reads pytest's JUnit report (`--junitxml`) and lists every skipped test grouped by file and
reason, so a suite that skipped wholesale (no shared data, no extra) is named in the run's page
instead of vanishing into a green tick. A missing report is itself reported: the tests did not
run. With `--shared`, it says whether the shared test data was there. Standard library only: it
runs before (or without) proofgate's installation.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def _file_of(case: ET.Element) -> str:
    """`tests/lean/test_pool.py` from a testcase's `file` or dotted `classname`."""
    if case.get("file"):
        return str(case.get("file"))
    classname = case.get("classname", "")
    parts = classname.split(".")
    while parts and parts[-1][:1].isupper():  # a test class
        parts.pop()
    return "/".join(parts) + ".py" if parts else "?"


def _reason(skipped: ET.Element) -> str:
    text = skipped.get("message") or skipped.text or ""
    return " ".join(text.split()).removeprefix("Skipped: ")[:200] or "(no reason given)"


def summarize(title: str, report: Path, shared: Path | None = None) -> str:
    lines = [f"### {title}", ""]
    if shared is not None:
        if shared.is_dir():
            lines.append(f"- shared test data: present at `{shared}`")
        else:
            lines.append(
                f"- shared test data: **missing** at `{shared}`; the suites that read it "
                "(REPL transcripts, shared adversarial cases) did not run"
            )
    if not report.is_file():
        lines.append(f"- **no test report** (`{report}`): the tests did not run; see the log")
        return "\n".join(lines) + "\n"
    try:
        root = ET.parse(report).getroot()
    except ET.ParseError as exc:
        lines.append(f"- **unreadable test report** (`{report}`: {exc}); see the log")
        return "\n".join(lines) + "\n"
    cases = list(root.iter("testcase"))
    skipped: Counter[tuple[str, str]] = Counter()
    for case in cases:
        for element in case.findall("skipped"):
            skipped[(_file_of(case), _reason(element))] += 1
    failed = sum(1 for case in cases if case.find("failure") is not None)
    errors = sum(1 for case in cases if case.find("error") is not None)
    ran = len(cases) - sum(skipped.values())
    lines.append(
        f"- {len(cases)} collected: {ran} ran ({failed} failed, {errors} errors), "
        f"{sum(skipped.values())} did not run"
    )
    if not cases:
        lines.append("- **no test was collected**")
    if skipped:
        lines += ["", "| did not run | tests | why |", "| --- | --- | --- |"]
        for (where, why), count in sorted(skipped.items()):
            lines.append(f"| `{where}` | {count} | {why.replace('|', '/')} |")
    else:
        lines.append("- every collected test ran")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("title")
    parser.add_argument("report", type=Path)
    parser.add_argument("--shared", type=Path)
    args = parser.parse_args(argv)
    sys.stdout.write(summarize(args.title, args.report, args.shared))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
