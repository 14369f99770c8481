"""How a batch failed: counts by verdict and error category, the most frequent error messages
(normalised, with examples), time and retry distributions, and the cheats caught by class.

`analyse_results` reads a batch's RESULTS.jsonl into a `FailureSummary`; `failure_page` renders it
as HTML and Markdown, `plots` draws its charts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from proofgate.batch.input import BatchRecord
from proofgate.batch.output import read_records
from proofgate.batch.runner import record_outcome
from proofgate.models import Severity, VerdictStatus
from proofgate.reports.versions import VersionComparison, compare_environments

__all__ = [
    "CHEAT_CLASSES",
    "FailureSummary",
    "MessageGroup",
    "analyse_records",
    "analyse_results",
    "normalise_message",
    "percentile",
]

#: Axioms every profile allows, and `sorry`'s own: neither is a cheat by itself.
_ORDINARY_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound", "sorryAx"})
#: The cheat classes, in the order a reader meets them.
CHEAT_CLASSES = ("policy rules", "axiom violations", "statement mismatches", "sorry")
_EXAMPLES = 3
_PATTERN_CHARS = 140

# a quote opens only after a non-word character (so "target's" is not one); Lean names may end
# in primes (`h'`), which the closing `'+` takes in
_QUOTED = re.compile(r"(?<!\w)'[^\s'][^\n]{0,200}?'+(?!\w)|`[^`\n]{1,200}`|«[^»\n]{1,200}»")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_SPACE = re.compile(r"\s+")


def normalise_message(text: str) -> str:
    """The message with what varies between attempts blanked: names in quotes, numbers, goals.

    Lean puts goals and types on the lines after the first, so only the first line is kept.
    """
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = _QUOTED.sub(lambda match: match.group(0)[0] + "…" + match.group(0)[-1], first)
    first = _NUMBER.sub("N", first)
    first = _SPACE.sub(" ", first).strip()
    return first if len(first) <= _PATTERN_CHARS else first[: _PATTERN_CHARS - 1] + "…"


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` by nearest rank (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class MessageGroup:
    """Error messages that normalise to one pattern, with a few (id, original text) examples."""

    pattern: str
    category: str
    count: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FailureSummary:
    """Everything the failure-mode report shows, computed once from the records."""

    source: str
    total: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    messages: list[MessageGroup] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(
        default_factory=dict
    )  # checks run (cache hits left out)
    verdicts: int = 0
    stage_ms: dict[str, float] = field(default_factory=dict)
    attempts: Counter[int] = field(default_factory=Counter)
    cached: int = 0
    cheats: dict[str, Counter[str]] = field(default_factory=dict)  # what was caught, by name
    cheat_items: Counter[str] = field(default_factory=Counter)  # items caught, by class
    item_errors: list[MessageGroup] = field(default_factory=list)
    # a run in several environments: the items whose verdict differs between them
    versions: VersionComparison | None = None

    @property
    def successes(self) -> int:
        return self.outcomes["proved"] + self.outcomes["compiled"]

    @property
    def retried(self) -> int:
        return sum(count for tries, count in self.attempts.items() if tries > 1)

    def cheats_caught(self) -> int:
        """Items caught cheating (an item refused for three rules is one)."""
        return sum(self.cheat_items.values())


def _group(
    groups: dict[tuple[str, str], MessageGroup], category: str, text: str, item: str
) -> None:
    pattern = normalise_message(text)
    group = groups.setdefault((category, pattern), MessageGroup(pattern, category))
    group.count += 1
    if len(group.examples) < _EXAMPLES:
        shown = text.strip().splitlines()[0] if text.strip() else ""
        group.examples.append((item, shown[:300]))


def _ranked(groups: dict[tuple[str, str], MessageGroup], limit: int) -> list[MessageGroup]:
    return sorted(groups.values(), key=lambda g: (-g.count, g.category, g.pattern))[:limit]


def analyse_records(
    records: list[BatchRecord], *, source: str = "", top: int = 15
) -> FailureSummary:
    """The failure-mode summary of a batch's records."""
    summary = FailureSummary(source=source, total=len(records))
    summary.cheats = {name: Counter() for name in CHEAT_CLASSES}
    messages: dict[tuple[str, str], MessageGroup] = {}
    item_errors: dict[tuple[str, str], MessageGroup] = {}
    stages: Counter[str] = Counter()
    for record in records:
        summary.outcomes[record_outcome(record)] += 1
        summary.attempts[record.attempts] += 1
        if record.error is not None:
            label = record.error.kind + (f" ({record.error.field})" if record.error.field else "")
            _group(item_errors, label, record.error.message, record.id)
            continue
        verdict = record.verdict
        assert verdict is not None  # a record holds a verdict or an error
        status = verdict.status
        summary.verdicts += 1
        if verdict.cached:  # a cache hit times the cache, not a check
            summary.cached += 1
        else:
            summary.seconds.setdefault(status.value, []).append(verdict.timings.total_ms / 1000)
            for stage in ("queue_ms", "policy_ms", "repl_ms", "audit_ms", "total_ms"):
                stages[stage] += getattr(verdict.timings, stage)
        seen_here: set[str] = set()
        for message in verdict.messages:
            if message.severity is not Severity.error:
                continue
            seen_here.add(message.category.value)
            _group(messages, message.category.value, message.text, record.id)
        summary.categories.update(seen_here)
        caught = _count_cheats(summary.cheats, verdict.status, record)
        if caught is not None:
            summary.cheat_items[caught] += 1
    checks = summary.verdicts - summary.cached
    summary.stage_ms = {stage: stages[stage] / checks for stage in stages} if checks else {}
    summary.messages = _ranked(messages, top)
    summary.item_errors = _ranked(item_errors, top)
    summary.versions = compare_environments(records)
    return summary


def _count_cheats(
    cheats: dict[str, Counter[str]], status: VerdictStatus, record: BatchRecord
) -> str | None:
    """Count what `record` was caught with; the class it falls in (None: not a cheat)."""
    verdict = record.verdict
    assert verdict is not None
    if status is VerdictStatus.rejected:
        cheats["policy rules"].update(v.rule for v in verdict.violations or [])
        if not verdict.violations:
            cheats["policy rules"]["(unnamed rule)"] += 1
        return "policy rules"
    if status is VerdictStatus.axiom_violation:
        extra = [axiom for axiom in verdict.axioms if axiom not in _ORDINARY_AXIOMS]
        cheats["axiom violations"].update(extra or ["(axiom not named)"])
        return "axiom violations"
    if status is VerdictStatus.statement_mismatch:
        cheats["statement mismatches"][normalise_message(verdict.reason) or "mismatch"] += 1
        return "statement mismatches"
    if status is VerdictStatus.incomplete:
        cheats["sorry"]["reaches sorryAx" if "sorryAx" in verdict.axioms else "sorry left"] += 1
        return "sorry"
    return None


def analyse_results(path: Path, *, top: int = 15) -> FailureSummary:
    """The failure-mode summary of a RESULTS.jsonl file (a torn last line is ignored)."""
    return analyse_records(read_records(path), source=str(path), top=top)
