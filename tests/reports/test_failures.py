"""The failure-mode analysis: counts, normalised message groups, times, retries, cheats."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from proofgate.batch.runner import record_outcome
from proofgate.reports.failures import (
    analyse_records,
    analyse_results,
    normalise_message,
    percentile,
)
from tests.reports.sample_results import sample_records, write_sample_results


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("unknown identifier 'Nat.succ_le_iff''", "unknown identifier '…'"),
        ("unknown identifier 'foo'", "unknown identifier '…'"),
        ("unsolved goals\nx : ℕ\n⊢ x + 1 = 1 + x", "unsolved goals"),
        (
            "maximum number of heartbeats (200000) has been reached",
            "maximum number of heartbeats (N) has been reached",
        ),
        (
            "the target's type differs from the statement's",
            "the target's type differs from the statement's",
        ),
        ("unknown constant `Real.pi`   here", "unknown constant `…` here"),
        ("", ""),
    ],
)
def test_messages_normalise_to_their_pattern(text: str, pattern: str) -> None:
    assert normalise_message(text) == pattern


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 100.0], 0.99) == 100.0


def test_the_summary_counts_every_record_once(tmp_path: Path) -> None:
    records = write_sample_results(tmp_path / "results.jsonl")
    summary = analyse_results(tmp_path / "results.jsonl")
    assert summary.total == len(records) == 400
    assert summary.outcomes == Counter(record_outcome(r) for r in records)
    with_verdict = [r for r in records if r.verdict is not None]
    assert summary.verdicts == len(with_verdict)
    assert summary.cached == sum(r.verdict.cached for r in with_verdict if r.verdict)
    assert sum(len(t) for t in summary.seconds.values()) == summary.verdicts - summary.cached
    assert summary.attempts == Counter(r.attempts for r in records)
    assert summary.retried == sum(r.attempts > 1 for r in records) > 0


def test_messages_group_by_pattern_with_examples() -> None:
    records = sample_records()
    summary = analyse_records(records)
    groups = {(g.category, g.pattern): g for g in summary.messages}
    unknown = groups[("unknown_identifier", "unknown identifier '…'")]
    expected = sum(
        1
        for r in records
        if r.verdict
        for m in r.verdict.messages
        if m.text.startswith("unknown identifier")
    )
    assert unknown.count == expected > 3 and len(unknown.examples) == 3
    assert all(text.startswith("unknown identifier '") for _, text in unknown.examples)
    counts = [g.count for g in summary.messages]
    assert counts == sorted(counts, reverse=True)


def test_cheats_are_counted_by_class() -> None:
    records = sample_records()
    summary = analyse_records(records)
    statuses = Counter(r.verdict.status.value for r in records if r.verdict)
    assert sum(summary.cheats["policy rules"].values()) == statuses["rejected"]
    assert sum(summary.cheats["axiom violations"].values()) == statuses["axiom_violation"]
    assert "propext" not in summary.cheats["axiom violations"]
    assert sum(summary.cheats["statement mismatches"].values()) == statuses["statement_mismatch"]
    assert summary.cheats["sorry"] == Counter({"reaches sorryAx": statuses["incomplete"]})
    assert summary.cheats_caught() == sum(
        statuses[s] for s in ("rejected", "axiom_violation", "statement_mismatch", "incomplete")
    )


def test_cheats_caught_counts_items_not_violations(tmp_path: Path) -> None:
    """An item refused for three rules is one cheat caught (issue 30, defect 6); the rules are
    still listed, each with how often it was hit."""
    from proofgate.batch.input import BatchRecord
    from proofgate.models import Verdict, VerdictStatus, Violation
    from proofgate.reports.failure_page import write_failure_report

    violations = [
        Violation(rule=rule, line=1, column=0, message="refused")
        for rule in ("eval", "exit", "eval")
    ]
    refused = Verdict(status=VerdictStatus.rejected, kind="compile", violations=violations)
    records = [BatchRecord(id="a", line=1, verdict=refused)]
    summary = analyse_records(records)
    assert summary.cheats_caught() == 1 and summary.cheat_items["policy rules"] == 1
    assert summary.cheats["policy rules"] == Counter({"eval": 2, "exit": 1})
    write_failure_report(summary, tmp_path)
    assert "| policy rules | 1 |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
