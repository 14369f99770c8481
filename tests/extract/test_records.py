"""The records' schema (`proofgate-extract/1`): a record validates, names its version, and the docs
page describes every field."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from proofgate.config import SOURCE_ROOT
from proofgate.extract import SCHEMA, ProofRecord, StepRecord, parse_record
from proofgate.extract.records import VerdictSummary, json_schema
from proofgate.models import Pins, Position, VerdictStatus

DOCS = SOURCE_ROOT / "docs" / "extract.md"
VERDICT = VerdictSummary(status=VerdictStatus.proved, audited=True, content_hash="ab" * 32)


def step() -> StepRecord:
    return StepRecord(
        format=SCHEMA,
        item_id="i",
        verdict=VERDICT,
        index=0,
        tactic="exact hp",
        pos=Position(line=2, column=2),
        end_pos=Position(line=2, column=10),
        goals_before="P : Prop\nhp : P\n⊢ P",
        goals_after=[],
        used_constants=[],
        time_ms=0.4,
    )


def proof() -> ProofRecord:
    pins = Pins(lean="v4.32.0", mathlib="m", repl="r", proofgate="p", checker="c")
    return ProofRecord(
        format=SCHEMA,
        item_id="i",
        verdict=VERDICT,
        statement="theorem t (P : Prop) (hp : P) : P := by sorry",
        proof="by\n  exact hp",
        code="theorem t (P : Prop) (hp : P) : P := by\n  exact hp",
        environment="default",
        declarations_used=[],
        axioms=[],
        pins=pins,
        steps=1,
    )


@pytest.mark.parametrize("record", [step(), proof()], ids=["step", "proof"])
def test_a_record_validates_and_names_its_schema_version(record: StepRecord | ProofRecord) -> None:
    line = record.model_dump_json()
    assert json.loads(line)["format"] == SCHEMA == "proofgate-extract/1"
    assert parse_record(line) == record
    unversioned = {k: v for k, v in json.loads(line).items() if k != "format"}
    with pytest.raises(ValidationError, match="format"):
        parse_record(json.dumps(unversioned))
    with pytest.raises(ValidationError, match="format"):
        parse_record(json.dumps({**json.loads(line), "format": "proofgate-extract/2"}))


def test_the_json_schema_requires_the_version_in_both_kinds() -> None:
    schema = json_schema()
    kinds = {name: schema["$defs"][name] for name in ("StepRecord", "ProofRecord")}  # type: ignore[index]
    for definition in kinds.values():
        assert "format" in definition["required"]
        assert definition["properties"]["format"]["const"] == SCHEMA


def test_the_docs_page_describes_every_field() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", text, re.MULTILINE))
    names = {name for pair in documented for name in pair if name}
    shared = {"format", "record", "item_id", "verdict"}
    for model in (StepRecord, ProofRecord, VerdictSummary):
        for field in model.model_fields:
            assert field in names or (field in shared and f"`{field}`" in text), (
                f"docs/extract.md does not describe {model.__name__}.{field}"
            )
    assert f"`{SCHEMA}`" in text
