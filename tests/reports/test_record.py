"""Reproducible records: what they hold, JSON and Markdown round trips, edits detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.models import Submission, Verdict
from proofgate.reports.record import (
    build_record,
    load_record,
    record_submission,
    record_verdict,
    render_markdown,
    write_record,
)
from proofgate.reports.signing import ReportKey, load_report_key
from tests.reports.sample_results import sample_records

STATEMENT = "import Mathlib\n\ntheorem thm (a b : ℕ) : a + b = b + a := by sorry\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")


@pytest.fixture
def key(settings: Settings) -> ReportKey:
    return load_report_key(settings)


def _pair() -> tuple[Submission, Verdict]:
    submission = Submission(
        statement=STATEMENT, proof="by\n  ```weird``` \n  omega", policy="strict"
    )
    verdict = next(r.verdict for r in sample_records(60) if r.verdict and r.verdict.messages)
    assert verdict is not None
    return submission, verdict.model_copy(update={"content_hash": submission.content_hash()})


@pytest.mark.parametrize("profile", ["strict", "permissive"])
def test_a_submission_without_a_policy_records_the_profile_it_was_checked_under(
    settings: Settings, key: ReportKey, profile: str
) -> None:
    """The service checks a submission without `policy` under PROOFGATE_POLICY (issue 30, defect 3),
    and its verdict's content hash says which: the record names that profile."""
    submission, verdict = _pair()
    bare = submission.model_copy(update={"policy": None})
    applied = submission.model_copy(update={"policy": profile})
    verdict = verdict.model_copy(update={"content_hash": applied.content_hash()})
    record = build_record(bare, verdict, settings, key)
    assert record["policy_profile"] == profile and record_submission(record) == applied


def test_a_record_holds_everything_needed_to_recheck(settings: Settings, key: ReportKey) -> None:
    submission, verdict = _pair()
    record = build_record(submission, verdict, settings, key, item_id="minif2f-0007")
    assert record["statement"] == STATEMENT and record["item_id"] == "minif2f-0007"
    assert record["pins"]["mathlib"] == "81a5d257c8e410db227a6665ed08f64fea08e997"
    assert (
        record["pins"]["repl"] and record["pins"]["checker"] and record["exported_by"]["proofgate"]
    )
    assert record["policy_profile"] == "strict"
    assert record["allowed_axioms"] == ["Classical.choice", "Quot.sound", "propext"]
    assert record["hashes"]["submission"] == submission.content_hash()
    assert record["hashes"]["code"] is None and len(record["hashes"]["proof"]) == 64
    assert record["axioms"] == verdict.axioms and record["timings"]["total_ms"] > 0
    assert record_submission(record) == submission and record_verdict(record) == verdict
    assert record["signature"]["algorithm"] == "HMAC-SHA256"


def test_a_verdict_for_another_submission_is_refused(settings: Settings, key: ReportKey) -> None:
    _, verdict = _pair()
    other = Submission(statement=STATEMENT, proof="by simp")
    with pytest.raises(ConfigError, match="not computed for this submission"):
        build_record(other, verdict, settings, key)


def test_json_and_markdown_load_back_unedited(
    tmp_path: Path, settings: Settings, key: ReportKey
) -> None:
    submission, verdict = _pair()
    record = build_record(submission, verdict, settings, key)
    markdown_path = write_record(record, tmp_path / "r" / "report.json")
    assert markdown_path == tmp_path / "r" / "report.md"
    for path in (tmp_path / "r" / "report.json", markdown_path):
        loaded = load_record(path)
        assert loaded.record == record and not loaded.markdown_edited
        assert loaded.signature(key) == "valid"
    text = markdown_path.read_text()
    assert "**Verdict: `failed`**" in text and "81a5d257c8e4" in text
    assert "````lean" in text  # the proof holds a ``` run: the fence is longer


def test_edits_to_json_prose_or_embedded_record_are_detected(
    tmp_path: Path, settings: Settings, key: ReportKey
) -> None:
    submission, verdict = _pair()
    record = build_record(submission, verdict, settings, key)
    markdown_path = write_record(record, tmp_path / "report.json")

    data = json.loads((tmp_path / "report.json").read_text())
    data["verdict"]["status"] = "proved"
    (tmp_path / "report.json").write_text(json.dumps(data))
    assert load_record(tmp_path / "report.json").signature(key) == "invalid"

    text = markdown_path.read_text()
    prose = tmp_path / "prose.md"
    prose.write_text(text.replace("**Verdict: `failed`**", "**Verdict: `proved`**"))
    loaded = load_record(prose)
    assert loaded.signature(key) == "valid" and loaded.markdown_edited

    embedded = tmp_path / "embedded.md"
    embedded.write_text(text.replace('"status": "failed"', '"status": "proved"'))
    assert load_record(embedded).signature(key) == "invalid"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "x.md: not a JSON object \\(Expecting"),
        (
            "<!-- proofgate-record: the signed record; do not edit -->\n```json\n[1, 2]\n```\n"
            "<!-- /proofgate-record -->\n",
            "x.md: not a JSON object; give a report `proofgate export` wrote",
        ),
        ('{"format": "other/1"}', "not a proofgate report"),
        ("# a report\n\nno record here\n", "holds no signed record"),
    ],
)
def test_what_is_not_a_report_is_a_config_error(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "x.md"
    path.write_text(content)
    with pytest.raises(ConfigError, match=words):
        load_record(path)


def test_markdown_renders_from_any_record(settings: Settings, key: ReportKey) -> None:
    submission = Submission(code="theorem x : True := trivial")
    verdict = next(r.verdict for r in sample_records(20) if r.verdict)
    assert verdict is not None
    verdict = verdict.model_copy(update={"content_hash": submission.content_hash()})
    text = render_markdown(build_record(submission, verdict, settings, key))
    assert "## Submitted code" in text and "## Locked statement" not in text
