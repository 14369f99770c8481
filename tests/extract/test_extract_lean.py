"""`proofgate extract`'s step records from real Lean: the REPL's `allTactics`, each tactic run again.

Skipped where no toolchain is installed (tests/conftest.py says which piece is missing); the
real-Lean workflow runs it. The expected steps are the REPL's recorded replies (shared
lean-repl-transcripts/core `all_tactics-20250622`: `exact hp` at `P : Prop\\nhp : P\\n⊢ P`, no
constants, nothing left after it; `all_tactics` and `proof_step`: `have t := 37` uses the
numeral's constants and adds `t : Nat`), here inside a locked theorem: not yet recorded there.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.extract import ExtractOptions, Pending, StepRecord, parse_record, run_extract
from proofgate.extract.records import ProofRecord
from proofgate.extract.steps import ServiceSteps
from proofgate.models import Submission
from proofgate.service import CheckerService

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

STATEMENT = "theorem two (P : Prop) (hp : P) : P := by sorry"


async def test_real_repl_steps_of_a_proved_item(tmp_path: Path) -> None:
    service = CheckerService(Settings(data_dir=tmp_path / "data"))
    await service.start()
    try:
        items = [
            Pending("exact", 1, Submission(statement=STATEMENT, proof="by\n  exact hp")),
            Pending(
                "have", 2, Submission(statement=STATEMENT, proof="by\n  have t := 37\n  exact hp")
            ),
        ]
        out = io.StringIO()
        summary = await run_extract(
            items, out, source=ServiceSteps(service), options=ExtractOptions()
        )
    finally:
        await service.close()
    assert summary.outcomes == {"proved": 2}
    records = [parse_record(line) for line in out.getvalue().splitlines()]
    by_item: dict[str, list[StepRecord]] = {}
    for record in records:
        if isinstance(record, StepRecord):
            by_item.setdefault(record.item_id, []).append(record)
    (exact,) = by_item["exact"]
    assert (exact.tactic, exact.goals_before, exact.used_constants) == (
        "exact hp",
        "P : Prop\nhp : P\n⊢ P",
        [],
    )
    assert (exact.pos.line, exact.pos.column, exact.end_pos.column) == (2, 2, 10)
    assert exact.goals_after == [] and exact.time_ms is not None
    have, last = by_item["have"]
    assert have.tactic == "have t := 37"
    assert {"instOfNatNat", "Nat", "OfNat.ofNat"} <= set(have.used_constants or [])
    assert have.goals_after == ["P : Prop\nhp : P\nt : Nat\n⊢ P"]
    assert last.goals_before == "P : Prop\nhp : P\nt : Nat\n⊢ P" and last.goals_after == []
    proofs = [r for r in records if isinstance(r, ProofRecord)]
    assert [p.steps for p in proofs] == [1, 2]
    assert all(p.pins is not None and p.pins.lean for p in proofs)
