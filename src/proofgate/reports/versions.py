"""The cross-version comparison of a batch run in several environments (`proofgate batch
--environments A,B,...`): the items whose verdict differs between them.

An item's verdict in an environment is its record's `record_outcome` (the verdict's status, or
`error:KIND`). An item differs when the environments it has a record in do not all agree; one
missing a record somewhere (a run not finished) is counted apart and shown only if the records
it has differ. Records of format 1 name no environment: a file of them has nothing to compare.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from proofgate.batch.input import BatchRecord
from proofgate.batch.runner import record_outcome
from proofgate.reports.markup import html_text, table_lines

__all__ = [
    "ItemVerdicts",
    "VersionComparison",
    "compare_environments",
    "headline",
    "render_html_section",
    "render_markdown_section",
]

#: What a table shows for an environment an item has no record in.
MISSING = "-"


@dataclass(frozen=True)
class ItemVerdicts:
    """One item's outcome in each environment it has a record in."""

    id: str
    line: int
    outcomes: dict[str, str]

    def outcome(self, environment: str) -> str:
        return self.outcomes.get(environment, MISSING)


@dataclass
class VersionComparison:
    """Which items' verdicts differ between `environments` (in the order the records name them)."""

    environments: list[str]
    items: int = 0  # items with a record in at least one environment
    agreeing: int = 0  # items whose records all agree (incomplete ones included)
    differing: list[ItemVerdicts] = field(default_factory=list)
    incomplete: int = 0  # items without a record in some environment
    by_environment: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[str]:
        """Every outcome some environment has, sorted: the rows of the outcome tables."""
        return sorted({outcome for counts in self.by_environment.values() for outcome in counts})

    def as_json(self) -> dict[str, object]:
        return {
            "environments": self.environments,
            "items": self.items,
            "agreeing": self.agreeing,
            "differing_count": len(self.differing),
            "incomplete": self.incomplete,
            "differing": [
                {"id": item.id, "line": item.line, "verdicts": item.outcomes}
                for item in self.differing
            ],
            "outcomes_by_environment": {
                name: dict(counts.most_common()) for name, counts in self.by_environment.items()
            },
        }


def compare_environments(records: list[BatchRecord]) -> VersionComparison | None:
    """The comparison of `records`, or None when they name fewer than two environments."""
    environments: list[str] = []
    by_item: dict[str, ItemVerdicts] = {}
    for record in records:
        if record.environment is None:
            continue
        if record.environment not in environments:
            environments.append(record.environment)
        item = by_item.setdefault(record.id, ItemVerdicts(record.id, record.line, {}))
        item.outcomes[record.environment] = record_outcome(record)
    if len(environments) < 2:
        return None
    comparison = VersionComparison(environments, items=len(by_item))
    comparison.by_environment = {name: Counter() for name in environments}
    for item in sorted(by_item.values(), key=lambda item: (item.line, item.id)):
        for name, outcome in item.outcomes.items():
            comparison.by_environment[name][outcome] += 1
        if len(item.outcomes) < len(environments):
            comparison.incomplete += 1
        if len(set(item.outcomes.values())) > 1:
            comparison.differing.append(item)
        else:
            comparison.agreeing += 1
    return comparison


def headline(comparison: VersionComparison) -> str:
    """One sentence: how many items differ, of how many, between which environments."""
    text = (
        f"{len(comparison.differing)} of {comparison.items} items have a verdict that differs "
        f"between {', '.join(comparison.environments)}"
    )
    if comparison.incomplete:
        text += (
            f"; {comparison.incomplete} lack a record in some environment (run the batch again "
            "to finish them)"
        )
    return text + "."


def render_html_section(comparison: VersionComparison) -> str:
    """The report page's section: the headline, outcomes per environment, the differing items."""
    names = comparison.environments
    head = "".join(f"<th>{html_text(name)}</th>" for name in names)
    rows = "".join(
        f"<tr><td><code>{html_text(item.id)}</code></td>"
        + "".join(f"<td>{html_text(item.outcome(name))}</td>" for name in names)
        + "</tr>"
        for item in comparison.differing
    )
    totals = "".join(
        f"<tr><td>{html_text(outcome)}</td>"
        + "".join(
            f'<td class="num">{comparison.by_environment[name][outcome]}</td>' for name in names
        )
        + "</tr>"
        for outcome in comparison.outcomes
    )
    parts = [
        "<h2>Differences between environments</h2>",
        f"<p>{html_text(headline(comparison))}</p>",
        f"<table><thead><tr><th>outcome</th>{head}</tr></thead><tbody>{totals}</tbody></table>",
    ]
    if comparison.differing:
        parts.append(
            f"<table><thead><tr><th>item</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        parts.append('<p class="none">Every item has the same verdict in each environment.</p>')
    return "\n".join(parts)


def render_markdown_section(comparison: VersionComparison) -> list[str]:
    """The summary's section, as Markdown lines."""
    names = comparison.environments
    lines = ["## Differences between environments", "", headline(comparison), ""]
    lines += table_lines(
        ["outcome", *names],
        [
            [outcome, *(comparison.by_environment[name][outcome] for name in names)]
            for outcome in comparison.outcomes
        ],
    )
    if comparison.differing:
        lines += [""]
        lines += table_lines(
            ["item", *names],
            [
                [f"`{item.id}`", *(item.outcome(name) for name in names)]
                for item in comparison.differing
            ],
        )
    return lines
