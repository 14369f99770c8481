"""The findings of a statement audit, from its records, and the report a benchmark maintainer can
attach to a release: JSON (the data), Markdown and HTML (the same, for people), findings grouped
by class with counts, each statement linked to its evidence.

Classes (each finding carries its evidence):
- `does_not_elaborate`: Lean's errors (no other class is looked for);
- `trivial`, `disproved`, `vacuous`: triage's flags, with the closing proof (a disproof's passed
  the trusted audit);
- `auto_bound`: the statement elaborates only with auto-bound implicits: the names Lean's errors
  give without them, and the type Lean printed with them;
- `truncating_arith`: `proofgate.triage.dataset.truncating_arithmetic` holds and the informal
  text speaks of reals, fractions or negatives (without an informal text: a note);
- `duplicate_of`: the same elaborated type, up to binder names, as an earlier statement of the
  same input (the finding is on the later one);
- `differs_from`: the statement of the same name in an earlier input has a different elaborated
  type (binder names aside), both types printed (the finding is on the later input's statement).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from proofgate.models import Message, Pins, ProbeKind, ProbeOutcome, Severity
from proofgate.triage.dataset import (
    DatasetStatement,
    Lineage,
    binder_free_hash,
    truncating_arithmetic,
)
from proofgate.triage.statement_audit import StatementRecord

__all__ = [
    "AuditReport",
    "Finding",
    "FindingKind",
    "build_report",
    "render_html",
    "render_markdown",
]

REPORT_FORMAT = 1


class FindingKind(str, Enum):
    does_not_elaborate = "does_not_elaborate"
    disproved = "disproved"
    vacuous = "vacuous"
    trivial = "trivial"
    auto_bound = "auto_bound"
    truncating_arith = "truncating_arith"
    duplicate_of = "duplicate_of"
    differs_from = "differs_from"


class Finding(BaseModel):
    """One finding, or one note (`kind` then says what the note is about)."""

    kind: str
    statement: str
    lineage: str
    name: str
    line: int
    summary: str
    related: str | None = Field(None, description="The other statement (duplicates, lineages).")
    evidence: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def about(
        cls,
        subject: DatasetStatement | StatementRecord,
        kind: str,
        summary: str,
        *,
        related: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Finding:
        """A finding or note on one statement, placed where its input line (or its record) is."""
        key = subject.key if isinstance(subject, DatasetStatement) else subject.id
        return cls(
            kind=kind,
            statement=key,
            lineage=subject.lineage,
            name=subject.name,
            line=subject.line,
            summary=summary,
            related=related,
            evidence=evidence or {},
        )

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{re.sub(r'[^A-Za-z0-9_.-]', '-', self.statement)}"


class InputSummary(BaseModel):
    lineage: str
    path: str
    statements: int


class StatementRow(BaseModel):
    id: str
    lineage: str
    name: str
    line: int
    status: str  # audited, not_audited, unusable
    findings: list[str] = Field(default_factory=list, description="Anchors of its findings.")
    elaborated_type: str | None = None
    type_hash: str | None = None


class AuditReport(BaseModel):
    format: int = REPORT_FORMAT
    complete: bool = Field(description="Every statement was audited to the end.")
    inputs: list[InputSummary]
    pins: Pins | None = None
    counts: dict[str, int]
    findings: list[Finding]
    notes: list[Finding]
    statements: list[StatementRow]


def _messages(messages: list[Message]) -> list[str]:
    placed = []
    for message in messages:
        where = f"line {message.pos.line}:{message.pos.column}: " if message.pos else ""
        placed.append(f"{where}{message.severity.value}: {message.text}")
    return placed


def _closing_proof(record: StatementRecord, kind: ProbeKind) -> tuple[str, str | None]:
    assert record.triage is not None
    tactic = record.triage.closed_by[kind]
    for probe in record.triage.probes:
        same = probe.kind is kind and probe.tactic == tactic
        if same and probe.outcome is ProbeOutcome.closed:
            return tactic, probe.proof
    return tactic, None


def _own_findings(statement: DatasetStatement, record: StatementRecord) -> list[Finding]:
    def finding(kind: FindingKind, summary: str, **evidence: Any) -> Finding:
        return Finding.about(record, kind.value, summary, evidence=evidence)

    triaged = record.triage
    if triaged is None or triaged.elaboration != "ok":
        if triaged is not None and triaged.elaboration == "failed":
            errors = [m for m in triaged.messages if m.severity is Severity.error]
            return [
                finding(
                    FindingKind.does_not_elaborate,
                    triaged.reason,
                    messages=_messages(errors),
                    statement=statement.lean,
                )
            ]
        return []
    found = []
    if triaged.disproved:
        tactic = triaged.closed_by[ProbeKind.disproved]
        found.append(
            finding(
                FindingKind.disproved,
                f"its negation is proved by `{tactic}` and passed the trusted audit",
                tactic=tactic,
                proof=triaged.negation_proof,
            )
        )
    for kind, word, what in (
        (ProbeKind.vacuous, FindingKind.vacuous, "its hypotheses prove False by"),
        (ProbeKind.trivially_provable, FindingKind.trivial, "proved as stated by"),
    ):
        if kind in triaged.flags:
            tactic, proof = _closing_proof(record, kind)
            found.append(finding(word, f"{what} `{tactic}`", tactic=tactic, proof=proof))
    if record.without_auto_bound == "failed":
        names = ", ".join(f"`{n}`" for n in record.auto_bound) or "(names not given by Lean)"
        found.append(
            finding(
                FindingKind.auto_bound,
                f"elaborates only with auto-bound implicits: {names}",
                names=record.auto_bound,
                type_with_auto_bound=record.elaborated_type,
                lean_errors_without_auto_bound=_messages(record.auto_bound_messages),
            )
        )
    return found


def _truncating(statement: DatasetStatement) -> tuple[Finding | None, Finding | None]:
    """(finding, note) of the truncating-arithmetic rule."""
    seen = truncating_arithmetic(statement)
    if seen is None:
        return None, None
    item = Finding.about(
        statement,
        FindingKind.truncating_arith.value,
        "",
        evidence={
            "operators": list(seen.operators),
            "integer_types": list(seen.types),
            "informal_signs": list(seen.informal_signs),
            "informal": statement.informal,
        },
    )
    operators = ", ".join(f"`{o.split(' ', 1)[1]}` at {o.split(' ', 1)[0]}" for o in seen.operators)
    types = "/".join(seen.types)
    if statement.informal is None:
        item.summary = (
            f"{types} arithmetic that truncates ({operators}); no informal text to compare"
        )
        return None, item
    if not seen.informal_signs:
        return None, None
    signs = ", ".join(f"“{s}”" for s in seen.informal_signs)
    item.summary = (
        f"{types} arithmetic that truncates ({operators}), the informal text says {signs}"
    )
    return item, None


def _pair(
    kind: FindingKind, record: StatementRecord, other: StatementRecord, summary: str
) -> Finding:
    return Finding.about(
        record,
        kind.value,
        summary,
        related=other.id,
        evidence={
            "type": record.elaborated_type,
            "other_type": other.elaborated_type,
            "binder_free_hash": binder_free_hash(record.elaborated_type or ""),
            "other_binder_free_hash": binder_free_hash(other.elaborated_type or ""),
        },
    )


def build_report(
    lineages: list[Lineage], records: dict[str, StatementRecord], pins: Pins | None = None
) -> AuditReport:
    """Findings and notes of every statement of `lineages`, from `records`."""
    findings: list[Finding] = []
    notes: list[Finding] = []
    rows: list[StatementRow] = []
    hashes: dict[str, str] = {}
    for lineage in lineages:
        first_of_type: dict[str, StatementRecord] = {}
        for statement in lineage.statements:
            record = records.get(statement.key)
            row = StatementRow(
                id=statement.key,
                lineage=statement.lineage,
                name=statement.name,
                line=statement.line,
                status="not_audited",
            )
            rows.append(row)

            def note(kind: str, text: str, statement: DatasetStatement = statement) -> None:
                notes.append(Finding.about(statement, kind, text))

            if statement.error is not None:
                row.status = "unusable"
                note("unusable_line", statement.error)
                continue
            truncating, truncating_note = _truncating(statement)
            own = [truncating] if truncating is not None else []
            if truncating_note is not None:
                notes.append(truncating_note)
            if record is None or not record.complete:
                note("not_audited", (record.unfinished if record else None) or "not audited yet")
                findings.extend(own)
                row.findings = [f.anchor for f in own]
                continue
            row.status = "audited"
            if record.error is not None:
                note("refused", record.error)
            elif record.triage is not None and record.triage.elaboration == "rejected":
                note("refused", record.triage.reason)
            own = _own_findings(statement, record) + own
            if record.elaborated_type is not None:
                digest = binder_free_hash(record.elaborated_type)
                row.elaborated_type, row.type_hash = record.elaborated_type, digest
                hashes[record.id] = digest
                earlier = first_of_type.setdefault(digest, record)
                if earlier is not record:
                    own.append(
                        _pair(
                            FindingKind.duplicate_of,
                            record,
                            earlier,
                            f"the same elaborated type (up to binder names) as {earlier.id}",
                        )
                    )
            elif record.triage is not None and record.triage.elaboration == "ok":
                note("no_type", "Lean printed no type for it: it is not compared")
            findings.extend(own)
            row.findings = [f.anchor for f in own]
    by_id = {row.id: row for row in rows}
    for index, lineage in enumerate(lineages[1:], start=1):
        for statement in lineage.statements:
            if statement.key not in hashes:
                continue
            for previous in reversed(lineages[:index]):
                other = f"{previous.label}/{statement.name}"
                if other in hashes:
                    if hashes[other] != hashes[statement.key]:
                        item = _pair(
                            FindingKind.differs_from,
                            records[statement.key],
                            records[other],
                            f"{other} has a different elaborated type",
                        )
                        findings.append(item)
                        by_id[statement.key].findings.append(item.anchor)
                    break
    order = {kind.value: position for position, kind in enumerate(FindingKind)}
    findings.sort(key=lambda f: (order[f.kind], f.lineage, f.line))
    counts = Counter(f.kind for f in findings)
    return AuditReport(
        complete=all(row.status != "not_audited" for row in rows),
        inputs=[
            InputSummary(lineage=lin.label, path=str(lin.path), statements=len(lin.statements))
            for lin in lineages
        ],
        pins=pins,
        counts={kind.value: counts[kind.value] for kind in FindingKind},
        findings=findings,
        notes=notes,
        statements=rows,
    )


# --- rendering ----------------------------------------------------------------------------------


def _evidence_items(finding: Finding) -> list[tuple[str, str]]:
    """(label, text) of each piece of evidence worth showing, in a fixed order."""
    items = []
    for key, value in finding.evidence.items():
        if value in (None, [], ""):
            continue
        text = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
        items.append((key.replace("_", " "), text))
    return items


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def render_markdown(report: AuditReport) -> str:
    out = ["# Statement audit", ""]
    if not report.complete:
        out += ["**Incomplete**: some statements are not audited yet (see the notes).", ""]
    if report.pins is not None:
        out += [f"Lean {report.pins.lean}, Mathlib {report.pins.mathlib}.", ""]
    out += ["| input | statements |", "| --- | --- |"]
    out += [f"| {i.lineage} (`{i.path}`) | {i.statements} |" for i in report.inputs]
    out += ["", "| finding | count |", "| --- | --- |"]
    out += [f"| [{k}](#{k}) | {n} |" for k, n in report.counts.items()]
    for kind, count in report.counts.items():
        out += ["", f'<a id="{kind}"></a>', f"## {kind} ({count})"]
        for finding in (f for f in report.findings if f.kind == kind):
            out += ["", f'<a id="{finding.anchor}"></a>', f"### {finding.statement}", ""]
            out += [f"Line {finding.line}: {finding.summary}"]
            if finding.related:
                out += ["", f"Other: `{finding.related}`"]
            for label, text in _evidence_items(finding):
                out += ["", f"{label}:", "", _fence(text)]
    out += ["", "## Notes", ""]
    out += [f"- `{n.statement}` ({n.kind}): {n.summary}" for n in report.notes] or ["None."]
    out += ["", "## Statements", "", "| statement | status | findings |", "| --- | --- | --- |"]
    for row in report.statements:
        links = ", ".join(f"[{a.split('-', 1)[0]}](#{a})" for a in row.findings) or "none"
        out.append(f"| `{row.id}` | {row.status} | {links} |")
    return "\n".join(out) + "\n"


_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
    "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
)


def render_html(report: AuditReport) -> str:
    e = html.escape
    out = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8"><title>Statement audit</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Statement audit</h1>",
    ]
    if not report.complete:
        out.append("<p><strong>Incomplete</strong>: some statements are not audited yet.</p>")
    if report.pins is not None:
        out.append(f"<p>Lean {e(report.pins.lean)}, Mathlib {e(report.pins.mathlib)}.</p>")
    out.append("<table><tr><th>input</th><th>statements</th></tr>")
    out += [
        f"<tr><td>{e(i.lineage)} (<code>{e(i.path)}</code>)</td><td>{i.statements}</td></tr>"
        for i in report.inputs
    ]
    out.append("</table><table><tr><th>finding</th><th>count</th></tr>")
    out += [
        f'<tr><td><a href="#{k}">{k}</a></td><td>{n}</td></tr>' for k, n in report.counts.items()
    ]
    out.append("</table>")
    for kind, count in report.counts.items():
        out.append(f'<h2 id="{kind}">{kind} ({count})</h2>')
        for finding in (f for f in report.findings if f.kind == kind):
            out.append(f'<section id="{e(finding.anchor)}"><h3>{e(finding.statement)}</h3>')
            out.append(f"<p>Line {finding.line}: {e(finding.summary)}</p>")
            if finding.related:
                out.append(f"<p>Other: <code>{e(finding.related)}</code></p>")
            for label, text in _evidence_items(finding):
                out.append(f"<p>{e(label)}:</p><pre>{e(text)}</pre>")
            out.append("</section>")
    out.append("<h2>Notes</h2><ul>")
    out += [
        f"<li><code>{e(n.statement)}</code> ({e(n.kind)}): {e(n.summary)}</li>"
        for n in report.notes
    ]
    out.append("</ul><h2>Statements</h2><table>")
    out.append("<tr><th>statement</th><th>status</th><th>findings</th></tr>")
    for row in report.statements:
        links = (
            ", ".join(f'<a href="#{e(a)}">{e(a.split("-", 1)[0])}</a>' for a in row.findings)
            or "none"
        )
        out.append(
            f"<tr><td><code>{e(row.id)}</code></td><td>{row.status}</td><td>{links}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"
