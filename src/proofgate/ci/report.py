"""CI mode's outputs from one `CiReport`: a human summary, JSON, JUnit XML, SARIF 2.1.0 and
GitHub Actions annotations. Each points at the file and line a person should open.

Lines are 1-based everywhere; columns are 0-based in proofgate's own models and JSON, 1-based in
SARIF and GitHub annotations (as those formats define them).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.markup import escape

from proofgate.__about__ import __version__
from proofgate.ci.results import CiReport, CiResult, Outcome

__all__ = ["dumps_json", "github_annotations", "render_human", "to_json", "to_junit", "to_sarif"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

#: Every status a failing result can have, with the one line SARIF shows for its rule.
RULES: dict[str, str] = {
    "statement_changed": "A locked statement, or what stands before it, changed since it was locked.",
    "target_missing": "A locked theorem (or its file) is gone.",
    "build_failed": "`lake build` of the repository failed.",
    "failed": "Lean reported errors.",
    "incomplete": "The theorem depends on sorry (sorryAx).",
    "axiom_violation": "The theorem depends on an axiom outside the allowlist.",
    "statement_mismatch": "The compiled theorem's type is not the locked statement's.",
    "rejected": "The file was refused by proofgate's policy before Lean ran.",
    "timeout": "The check ran past its time limit.",
    "out_of_memory": "The check went over its memory limit.",
    "compiled": "The file compiled, but no locked check was made.",
    "not_checked": "The theorem could not be submitted.",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _failing(report: CiReport) -> list[CiResult]:
    return [r for r in report.results if r.outcome is not Outcome.passed]


def _summary(report: CiReport) -> dict[str, int]:
    return {
        "total": len(report.results),
        "passed": report.count(Outcome.passed),
        "failed": report.count(Outcome.failed),
        "errors": report.count(Outcome.error),
        "cached": sum(1 for r in report.results if r.cached),
    }


# --- human ---------------------------------------------------------------------------------


def render_human(report: CiReport, console: Console) -> None:
    """The summary a person reads at the end of the log: one line per failure, grep-able."""
    for note in report.notes:
        console.print(f"[dim]note:[/dim] {escape(note)}", soft_wrap=True)
    for result in report.results:
        if result.outcome is Outcome.failed:
            console.print(
                f"[red]FAIL[/red] {escape(result.file)}:{result.line}:{result.column + 1} "
                f"{escape('[' + result.status + ']')} {escape(result.message)}",
                soft_wrap=True,
            )
    unchecked: dict[str, list[CiResult]] = {}
    for result in report.results:
        if result.outcome is Outcome.error:
            unchecked.setdefault(result.message, []).append(result)
    for message, results in unchecked.items():
        console.print(
            f"[yellow]NOT CHECKED[/yellow] ({len(results)}): {escape(message.removeprefix('not checked: '))}",
            soft_wrap=True,
        )
        for result in results[:10]:
            console.print(
                f"  {escape(result.file)}:{result.line} {escape(result.theorem)}", soft_wrap=True
            )
        if len(results) > 10:
            console.print(f"  ... and {len(results) - 10} more", soft_wrap=True)
    counts = _summary(report)
    colour = {0: "green", 1: "red"}.get(report.exit_code, "yellow")
    console.print(
        f"[{colour}]proofgate ci:[/{colour}] {counts['total']} results in "
        f"{report.duration_ms / 1000:.1f}s: {counts['passed']} proved, {counts['failed']} failed, "
        f"{counts['errors']} not checked ({counts['cached']} answered from the cache)",
        soft_wrap=True,
    )


# --- JSON ----------------------------------------------------------------------------------


def to_json(report: CiReport) -> dict[str, Any]:
    """The machine-readable report (`--json`)."""
    return {
        "ok": report.exit_code == 0,
        "exit_code": report.exit_code,
        "root": report.root.as_posix(),
        "duration_ms": round(report.duration_ms, 1),
        "summary": _summary(report),
        "environment": report.environment,
        "notes": list(report.notes),
        "results": [
            {
                "file": r.file,
                "theorem": r.theorem,
                "line": r.line,
                "column": r.column,
                "status": r.status,
                "outcome": r.outcome.value,
                "message": r.message,
                "cached": r.cached,
                "duration_ms": round(r.duration_ms, 1),
                "verdict": r.verdict.model_dump(mode="json") if r.verdict is not None else None,
            }
            for r in report.results
        ],
    }


# --- JUnit ---------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _CONTROL.sub("", text)


def to_junit(report: CiReport) -> str:
    """JUnit XML: one test case per result, `classname` the file, `name` the theorem."""
    counts = _summary(report)
    seconds = f"{report.duration_ms / 1000:.3f}"
    suites = ET.Element(
        "testsuites",
        name="proofgate ci",
        tests=str(counts["total"]),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        time=seconds,
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="proofgate",
        tests=str(counts["total"]),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        skipped="0",
        time=seconds,
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_xml_text(result.file),
            name=_xml_text(result.theorem),
            file=_xml_text(result.file),
            line=str(result.line),
            time=f"{result.duration_ms / 1000:.3f}",
        )
        if result.outcome is Outcome.passed:
            continue
        tag = "failure" if result.outcome is Outcome.failed else "error"
        detail = f"{result.file}:{result.line}:{result.column + 1}: {result.message}"
        if result.verdict is not None and result.verdict.feedback:
            detail += "\n\n" + result.verdict.feedback
        element = ET.SubElement(case, tag, message=_xml_text(result.message), type=result.status)
        element.text = _xml_text(detail)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


# --- SARIF ---------------------------------------------------------------------------------


def _uri(path: str) -> dict[str, str]:
    if path.startswith("/"):
        return {"uri": "file://" + quote(path)}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def _location(result: CiResult) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": _uri(result.file),
            "region": {"startLine": result.line, "startColumn": result.column + 1},
        }
    }


def to_sarif(report: CiReport) -> dict[str, Any]:
    """SARIF 2.1.0: failures are results (code scanning alerts); infrastructure problems are
    tool execution notifications, since they say nothing about the code."""
    failures = [r for r in report.results if r.outcome is Outcome.failed]
    problems = [r for r in report.results if r.outcome is Outcome.error]
    rule_ids = sorted({r.status for r in failures})
    rules = [
        {
            "id": rule,
            "name": rule,
            "shortDescription": {"text": RULES.get(rule, rule)},
            "defaultConfiguration": {"level": "error"},
        }
        for rule in rule_ids
    ]
    results = [
        {
            "ruleId": r.status,
            "ruleIndex": rule_ids.index(r.status),
            "level": "error",
            "message": {"text": r.message},
            "locations": [_location(r)],
            "partialFingerprints": {"proofgateTheorem/v1": f"{r.file}:{r.theorem}"},
        }
        for r in failures
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not problems}
    if problems:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": r.message}, "locations": [_location(r)]}
            for r in problems
        ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "proofgate", "version": __version__, "rules": rules}},
                "results": results,
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


# --- GitHub Actions ------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: CiReport) -> list[str]:
    """`::error file=...,line=...,col=...::message` for each failure, `::warning` when not checked."""
    lines = []
    for result in _failing(report):
        command = "error" if result.outcome is Outcome.failed else "warning"
        title = f"proofgate: {result.status}"
        properties = ",".join(
            f"{key}={_escape_property(value)}"
            for key, value in (
                ("file", result.file),
                ("line", str(result.line)),
                ("col", str(result.column + 1)),
                ("title", title),
            )
        )
        lines.append(f"::{command} {properties}::{_escape_data(result.message)}")
    return lines


def dumps_json(report: CiReport) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)
