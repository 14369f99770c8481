"""Every output format of `proofgate ci` names the failing file and line."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from proofgate.ci.report import github_annotations, render_human, to_json, to_junit, to_sarif
from proofgate.ci.results import CiReport, CiResult, Outcome
from tests.ci.conftest import SCENARIOS, Repo

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0-subset.schema.json").read_text())


def _validate_sarif(document: dict) -> None:
    jsonschema.Draft7Validator.check_schema(SARIF_SCHEMA)
    jsonschema.Draft7Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        document
    )


def _human(report: CiReport) -> str:
    buffer = io.StringIO()
    render_human(report, Console(file=buffer, width=100, no_color=True, highlight=False))
    return buffer.getvalue()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_every_format_points_at_the_failure(repo: Repo, scenario: str) -> None:
    spec = repo.apply(scenario)
    report = await repo.run()
    file, line, column, status = spec["file"], spec["line"], spec["column"], spec["status"]

    # human
    human = _human(report)
    assert f"FAIL {file}:{line}:{int(column) + 1} [{status}] " in human
    assert str(spec["theorem"]) in human

    # JSON (round-trips through the serializer)
    document = json.loads(json.dumps(to_json(report)))
    assert document["ok"] is False and document["exit_code"] == 1
    failed = [r for r in document["results"] if r["outcome"] == "failed"]
    assert [(r["file"], r["line"], r["column"], r["status"]) for r in failed] == [
        (file, line, column, status)
    ]

    # JUnit
    root = ET.fromstring(to_junit(report))
    suite = root.find("testsuite")
    assert (
        suite is not None
        and suite.get("failures") == "1"
        and suite.get("tests") == str(len(report.results))
    )
    failing_cases = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert len(failing_cases) == 1
    case = failing_cases[0]
    assert (case.get("classname"), case.get("file"), case.get("line")) == (file, file, str(line))
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == status
    assert (failure.text or "").startswith(f"{file}:{line}:{int(column) + 1}: ")

    # SARIF
    sarif = to_sarif(report)
    _validate_sarif(sarif)
    (result,) = sarif["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert result["ruleId"] == status and result["level"] == "error"
    assert location["artifactLocation"]["uri"] == file
    assert location["region"] == {"startLine": line, "startColumn": int(column) + 1}
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == status

    # GitHub annotations
    (annotation,) = github_annotations(report)
    assert annotation.startswith(
        f"::error file={file},line={line},col={int(column) + 1},title=proofgate%3A {status}::"
    )


async def test_a_clean_run_renders_as_passing(repo: Repo) -> None:
    report = await repo.run()
    assert "4 proved, 0 failed" in _human(report)
    assert to_json(report)["ok"] is True
    root = ET.fromstring(to_junit(report))
    assert root.get("failures") == "0" and len(list(root.iter("testcase"))) == 4
    assert not list(root.iter("failure"))
    sarif = to_sarif(report)
    _validate_sarif(sarif)
    assert (
        sarif["runs"][0]["results"] == []
        and sarif["runs"][0]["invocations"][0]["executionSuccessful"]
    )
    assert github_annotations(report) == []


def _report(*results: CiResult) -> CiReport:
    return CiReport(root=Path("/repo"), results=list(results))


def test_infrastructure_problems_are_notifications_not_alerts() -> None:
    report = _report(
        CiResult("A.lean", "a", 3, 0, "not_checked", Outcome.error, "not checked: server down")
    )
    sarif = to_sarif(report)
    _validate_sarif(sarif)
    run = sarif["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is False
    assert (
        run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
        == "not checked: server down"
    )
    assert github_annotations(report)[0].startswith("::warning file=A.lean,line=3,col=1,")
    assert ET.fromstring(to_junit(report)).find("testsuite/testcase/error") is not None


def test_annotations_escape_what_the_runner_would_misread() -> None:
    report = _report(
        CiResult("dir,x/A:B.lean", "a", 1, 0, "failed", Outcome.failed, "50% done\nsecond line")
    )
    (annotation,) = github_annotations(report)
    assert "file=dir%2Cx/A%3AB.lean," in annotation
    assert annotation.endswith("::50%25 done%0Asecond line")
    assert "\n" not in annotation


def test_junit_survives_control_characters_and_markup() -> None:
    report = _report(
        CiResult("A.lean", "a<b>", 1, 0, "failed", Outcome.failed, "bad \x1b[31m & <tag> \x00")
    )
    root = ET.fromstring(to_junit(report))
    assert root.find("testsuite/testcase").get("name") == "a<b>"  # type: ignore[union-attr]
    assert "&" in root.find("testsuite/testcase/failure").get("message")  # type: ignore[union-attr,operator]


def test_sarif_uris_are_encoded() -> None:
    report = _report(
        CiResult("My Dir/A.lean", "a", 1, 0, "failed", Outcome.failed, "x"),
        CiResult("/abs/B.lean", "b", 2, 4, "failed", Outcome.failed, "y"),
    )
    sarif = to_sarif(report)
    _validate_sarif(sarif)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]
        for r in sarif["runs"][0]["results"]
    ]
    assert uris == [
        {"uri": "My%20Dir/A.lean", "uriBaseId": "%SRCROOT%"},
        {"uri": "file:///abs/B.lean"},
    ]


def test_the_schema_catches_a_broken_document() -> None:
    broken = to_sarif(_report(CiResult("A.lean", "a", 1, 0, "failed", Outcome.failed, "x")))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        _validate_sarif(broken)
