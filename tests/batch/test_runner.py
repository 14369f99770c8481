"""A few hundred items through the stand-in stack, stopped midway and resumed: the same complete
output as an uninterrupted run, every id exactly once."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from proofgate.batch.executors.checker import CheckerExecutor
from proofgate.batch.input import BatchRecord
from proofgate.batch.output import read_records
from proofgate.batch.runner import record_outcome, run_batch
from proofgate.exceptions import NotReady
from proofgate.service import CheckerService
from tests.batch.items import write_batch
from tests.support.stack import Stack, make_stack

ITEMS = 300


def stack_in(directory: Path) -> Stack:
    directory.mkdir(parents=True, exist_ok=True)
    return make_stack(directory)


def comparable(record: BatchRecord) -> dict[str, object]:
    """What must not depend on timing, caching or the backend."""
    data = json.loads(record.to_line())
    data.pop("attempts")
    verdict = data.get("verdict")
    if verdict is not None:
        verdict.pop("timings")
        verdict.pop("cached")
    return data


def outcomes(path: Path) -> dict[str, dict[str, object]]:
    records = read_records(path)
    ids = [record.id for record in records]
    assert len(ids) == len(set(ids)), "an id was written twice"
    return {record.id: comparable(record) for record in records}


async def test_a_batch_stopped_midway_resumes_to_the_same_complete_output(tmp_path: Path) -> None:
    expected = write_batch(tmp_path / "in.jsonl", ITEMS)
    assert len(expected) == ITEMS

    reference = tmp_path / "reference.jsonl"
    whole = await run_batch(
        tmp_path / "in.jsonl",
        reference,
        CheckerExecutor(service=stack_in(tmp_path / "a").service()),
    )
    assert whole.complete and whole.written == ITEMS
    assert {
        k: record_outcome(r) for k, r in ((r.id, r) for r in read_records(reference))
    } == expected

    out = tmp_path / "results.jsonl"
    stack = stack_in(tmp_path / "b")
    seen: list[str] = []
    stop = asyncio.Event()

    def note(record: BatchRecord) -> None:
        seen.append(record.id)
        if len(seen) == ITEMS // 3:
            stop.set()

    run = asyncio.create_task(
        run_batch(
            tmp_path / "in.jsonl", out, CheckerExecutor(service=stack.service()), on_record=note
        )
    )
    await asyncio.wait_for(stop.wait(), 30)
    run.cancel()  # as Ctrl-C does: checks in flight are dropped, nothing half-written
    with pytest.raises(asyncio.CancelledError):
        await run
    first_part = read_records(out)
    assert ITEMS // 3 <= len(first_part) < ITEMS
    with out.open("a", encoding="utf-8") as stream:  # and a crash tore the last write
        stream.write('{"id": "item-9999", "line": 3, "verd')

    resumed = await run_batch(tmp_path / "in.jsonl", out, CheckerExecutor(service=stack.service()))
    assert resumed.already_done == len(first_part)
    assert resumed.written == ITEMS - len(first_part)
    assert resumed.torn_bytes > 0 and resumed.complete
    assert outcomes(out) == outcomes(reference)
    assert [r.id for r in read_records(out)][: len(first_part)] == [r.id for r in first_part]

    again = await run_batch(tmp_path / "in.jsonl", out, CheckerExecutor(service=stack.service()))
    assert again.written == 0 and again.already_done == ITEMS


async def test_records_carry_what_a_report_needs(tmp_path: Path) -> None:
    write_batch(tmp_path / "in.jsonl", 20)
    out = tmp_path / "out.jsonl"
    summary = await run_batch(
        tmp_path / "in.jsonl", out, CheckerExecutor(service=make_stack(tmp_path).service())
    )
    by_id = {record.id: record for record in read_records(out)}
    proved = by_id["item-0000"]
    assert proved.verdict is not None and proved.verdict.pins is not None
    assert proved.verdict.content_hash and proved.attempts == 1 and proved.line == 1
    refused = by_id["item-0007"]
    assert refused.error is not None and refused.error.field == "environment"
    assert refused.error.kind == "submission" and "nowhere" in refused.error.message
    bad = by_id["line:9"]  # item 8's line is not JSON: its record has the line's id
    assert bad.error is not None and bad.error.kind == "input" and bad.error.line == 9
    assert summary.outcomes == Counter(record_outcome(r) for r in by_id.values())


async def test_a_backend_that_cannot_verify_stops_before_writing(tmp_path: Path) -> None:
    write_batch(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    service = CheckerService(make_stack(tmp_path).settings)  # no stand-ins: no Lean here
    with pytest.raises(NotReady, match=re.escape("v4.32.0")):
        await run_batch(tmp_path / "in.jsonl", out, CheckerExecutor(service=service))
    assert read_records(out) == []
