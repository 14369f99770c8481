"""Contract 2 (docs/audit-design.md, section 7): the export-reading checker's report, parsed
strictly by `proofgate.verify.contract.parse_report`, which still reads contract 1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proofgate.verify import contract
from proofgate.verify.contract import (
    CONSTANT_KINDS,
    AuditReport,
    ExportAuditReport,
    ExportOutcome,
    ReportError,
    parse_report,
)
from proofgate.verify.export import DECLARATION_KINDS

# --- contract 2 ---------------------------------------------------------------------------------


def report(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "contract": 2,
        "check": 41,
        "checker": "proofgate-checker 2",
        "lean": "v4.32.0",
        "outcome": "ok",
        "detail": "",
        "target": "t1",
        "declaration": None,
        "target_axioms": ["propext"],
        "disallowed_axioms": [],
        "declarations": [
            {"name": "t1", "kind": "theorem", "axioms": ["propext"], "replayed": True}
        ],
        "collisions": [{"name": "Nat.add_comm", "kind": "theorem", "identical": True}],
        "answers": {},
        "timings_ms": {"parse": 1, "replay": 2, "total": 3},
    }
    base.update(fields)
    return base


def test_contract_2_reports_parse_strictly() -> None:
    parsed_report = parse_report(json.dumps(report()))
    assert isinstance(parsed_report, ExportAuditReport)
    assert parsed_report.check == 41 and parsed_report.collisions[0].identical
    for outcome in ExportOutcome:
        extra = {
            "declaration": "x",
            "collisions": [{"name": "x", "kind": "axiom", "identical": False}],
        }
        assert parse_report(json.dumps(report(outcome=outcome.value, **extra))).outcome is outcome


@pytest.mark.parametrize(
    "broken",
    [
        {"collisions": None},
        {"check": "41"},
        {"check": -1},
        {"check": True},
        {"collisions": [{"name": "x", "kind": "lemma", "identical": True}]},
        {"collisions": [{"name": "x", "kind": "axiom", "identical": "yes"}]},
        {"collisions": [{"name": "x", "kind": "axiom", "identical": True, "extra": 1}]},
        {"collisions": [{"name": "x", "kind": "axiom", "identical": False}]},  # ok despite it
        {"collisions": [{"name": "x", "kind": "axiom", "identical": True}] * 2},
        {"outcome": "import_redeclared", "declaration": "y"},  # not among the collisions
        {"outcome": "export_exploded"},
        {"unexpected": 1},
    ],
)
def test_a_broken_contract_2_report_is_refused(broken: dict[str, Any]) -> None:
    fields = report(**broken)
    for key, value in broken.items():
        if value is None:
            del fields[key]
    with pytest.raises(ReportError):
        parse_report(json.dumps(fields))


def test_both_contracts_are_read_and_no_other() -> None:
    one = {k: v for k, v in report(contract=1).items() if k not in ("check", "collisions")}
    assert type(parse_report(json.dumps(one))) is AuditReport
    with pytest.raises(ReportError, match="contract 3"):
        parse_report(json.dumps(report(contract=3)))
    with pytest.raises(ReportError):
        parse_report(json.dumps(report(contract=1)))  # contract 1 has no check/collisions
    with pytest.raises(ReportError):
        parse_report(json.dumps(report(contract=2.0)))
    with pytest.raises(ReportError):
        parse_report('{"contract": 2, "contract": 2}')
    with pytest.raises(ReportError):
        parse_report(json.dumps(report()) + "{}")
    with pytest.raises(ReportError, match="JSON"):  # bytes that are no UTF-8: a refusal too
        parse_report(b"\xff" + json.dumps(report()).encode())
    assert contract.CONTRACT_VERSION == 1  # the audit flow's contract until migration step 4


def test_the_contract_names_the_export_formats_kinds() -> None:
    kinds = {*DECLARATION_KINDS.values(), "constructor", "recursor"}
    assert set(CONSTANT_KINDS) == kinds
