"""`proofgate extract` on the stand-in stack (tests/support/stack.py): the simulated REPL answers
`allTactics` where bench/simulated_tactics.py models it, the stand-in checker audits.

Three items: one proved (two tactic steps), one Lean refuses (`failed`), one closed by `sorry`
(the checker finds `sorryAx`: `incomplete`). Only the proved one gives records, unless
--include-unverified. A signed results file written by one run is taken by the next without
checking again; an unsigned or edited one is refused, naming the line. On `--server` (the app on
127.0.0.1 over the same stand-ins) the records are the ones this process writes, times aside.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.backends import LocalBackend
from proofgate.cli import app
from proofgate.config import Settings
from proofgate.extract import SCHEMA, ProofRecord, StepRecord, parse_record
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()

PROVED = {
    "id": "two-steps",
    "statement": "theorem two (P : Prop) (hp : P) : P := by sorry",
    "proof": "by\n  have t := 37\n  exact hp",
}
FAILED = {
    "id": "refused",
    "statement": "theorem bad (P Q : Prop) (hp : P) : Q := by sorry",
    "proof": "by\n  exact hp -- standin: error type mismatch",
}
SORRY = {
    "id": "sorried",
    "statement": "theorem gap : False := by sorry",
    # the stand-in checker reads the axioms off this marker, as Lean's audit finds sorryAx
    "proof": "by sorry\n-- standin-axioms: propext sorryAx",
}


@pytest.fixture(autouse=True)
def _logs_to_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs to the real stderr (the runner's stream is closed after each invocation)."""
    monkeypatch.setattr("proofgate.logs.configure_logging", lambda *args, **kwargs: None)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stand-in stack, which `extract` without --server runs on (in this process)."""
    stack = make_stack(tmp_path)

    @asynccontextmanager
    async def local(server: str | None, settings: Settings | None = None) -> AsyncIterator[Any]:
        if server:  # --server: the real client, as the command has it
            from proofgate.cli.common import command_backend

            async with command_backend(server, settings) as backend:
                yield backend
            return
        backend = LocalBackend(stack.service(), owned=True)
        await backend.service.start()
        try:
            yield backend
        finally:
            await backend.aclose()

    monkeypatch.setattr("proofgate.cli.extract.command_backend", local)
    return stack


def write_input(path: Path, *items: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def read_data(path: Path) -> list[StepRecord | ProofRecord]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["format"] == SCHEMA for line in lines)
    return [parse_record(line) for line in lines]


def extract(*args: str | Path) -> Any:
    return runner.invoke(app, ["extract", *map(str, args)])


def comparable(records: list[StepRecord | ProofRecord]) -> list[dict[str, Any]]:
    """The records without the replays' times (they differ from run to run)."""
    return [r.model_dump(mode="json", exclude={"time_ms"}) for r in records]


def test_only_the_proved_item_gives_step_and_proof_records(stack: Stack, tmp_path: Path) -> None:
    given = write_input(tmp_path / "in.jsonl", PROVED, FAILED, SORRY)
    result = extract(given, "--out", tmp_path / "data.jsonl")
    assert result.exit_code == 0, result.output
    records = read_data(tmp_path / "data.jsonl")
    assert [(r.record, r.item_id) for r in records] == [
        ("step", "two-steps"),
        ("step", "two-steps"),
        ("proof", "two-steps"),
    ]
    first, second, proof = records
    assert isinstance(first, StepRecord) and isinstance(second, StepRecord)
    assert isinstance(proof, ProofRecord)
    # the steps as the REPL listed them, positions in the checked file's lines
    assert proof.code == "theorem two (P : Prop) (hp : P) : P := by\n  have t := 37\n  exact hp"
    assert (first.index, first.tactic, first.pos.line, first.pos.column) == (
        0,
        "have t := 37",
        2,
        2,
    )
    assert (first.end_pos.line, first.end_pos.column) == (2, 14)
    assert first.goals_before == "P : Prop\nhp : P\n⊢ P"
    assert first.goals_after == ["P : Prop\nhp : P\nt : Nat\n⊢ P"]  # the tactic run again
    assert first.used_constants == ["instOfNatNat", "Nat", "OfNat.ofNat"]
    assert first.time_ms is not None and first.time_ms >= 0
    assert (second.index, second.tactic, second.goals_before) == (
        1,
        "exact hp",
        "P : Prop\nhp : P\nt : Nat\n⊢ P",
    )
    assert second.goals_after == [] and second.used_constants == []
    # the proof: statement, proof, declarations used, the audit's axioms, the verdict's pins
    assert proof.statement == PROVED["statement"] and proof.proof == PROVED["proof"]
    assert proof.declarations_used == ["Nat", "OfNat.ofNat", "instOfNatNat"]
    assert proof.axioms == ["propext"]
    assert proof.pins is not None and proof.pins.environment == "default"
    assert proof.steps == 2 and proof.target == "two"
    assert all(r.verdict.status.value == "proved" and r.verdict.audited for r in records)


def test_include_unverified_gives_every_item_with_its_verdict(stack: Stack, tmp_path: Path) -> None:
    given = write_input(tmp_path / "in.jsonl", PROVED, FAILED, SORRY)
    result = extract(given, "--out", tmp_path / "data.jsonl", "--include-unverified")
    assert result.exit_code == 0, result.output
    records = read_data(tmp_path / "data.jsonl")
    proofs = {r.item_id: r for r in records if isinstance(r, ProofRecord)}
    statuses = {item: r.verdict.status.value for item, r in proofs.items()}
    assert statuses == {"two-steps": "proved", "refused": "failed", "sorried": "incomplete"}
    assert [r.verdict.audited for r in proofs.values()] == [True, False, False]
    for record in records:  # each step carries its own item's verdict
        assert record.verdict == proofs[record.item_id].verdict
    # Lean refused the failed one: no step is invented for it, and its proof record says why
    assert proofs["refused"].steps == 0 and proofs["refused"].declarations_used is None
    assert "type mismatch" in (proofs["refused"].note or "")
    (gap,) = [r for r in records if isinstance(r, StepRecord) and r.item_id == "sorried"]
    assert (gap.tactic, gap.goals_before, gap.goals_after) == ("sorry", "⊢ False", [])
    assert "sorryAx" in (gap.used_constants or [])
    assert proofs["sorried"].axioms == ["propext", "sorryAx"]


def test_a_signed_results_file_is_taken_and_an_edited_one_refused(
    stack: Stack, tmp_path: Path
) -> None:
    given = write_input(tmp_path / "in.jsonl", PROVED, FAILED, SORRY)
    signed = tmp_path / "signed.jsonl"
    first = extract(given, "--out", tmp_path / "a.jsonl", "--signed-results", signed)
    assert first.exit_code == 0, first.output
    assert len(signed.read_text().splitlines()) == 3  # every verdict checked, signed
    stack.scenario(mode="crash")  # a check now would fail: the verdicts must come from the file
    again = extract(signed, "--out", tmp_path / "b.jsonl")
    assert again.exit_code == 0, again.output
    assert comparable(read_data(tmp_path / "b.jsonl")) == comparable(
        read_data(tmp_path / "a.jsonl")
    )

    lines = signed.read_text().splitlines()  # in the order the checks finished
    (failed,) = [n for n, line in enumerate(lines) if json.loads(line)["item_id"] == "refused"]
    edited = json.loads(lines[failed])
    edited["verdict"]["status"] = "proved"  # a failed item claimed proved after signing
    lines[failed] = json.dumps(edited)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    refused = extract(tampered, "--out", tmp_path / "c.jsonl")
    assert refused.exit_code == 2
    assert f"line {failed + 1}: refused: its signature does not match its content" in " ".join(
        refused.output.split()
    )
    assert not (tmp_path / "c.jsonl").exists()


def test_an_unsigned_results_file_is_refused_naming_its_line(stack: Stack, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"  # what `proofgate batch` writes: verdicts, no signature
    verdict = {"status": "proved", "kind": "check", "content_hash": "0" * 64}
    results.write_text(json.dumps({"id": "x", "line": 1, "verdict": verdict}) + "\n")
    result = extract(results, "--out", tmp_path / "data.jsonl")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "line 1: refused: a results record without a signature" in output
    assert not (tmp_path / "data.jsonl").exists()


@pytest.mark.parametrize("flags", [(), ("--include-unverified",)])
def test_on_a_server_the_records_are_the_ones_written_in_process(
    stack: Stack, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    given = write_input(tmp_path / "in.jsonl", PROVED, FAILED, SORRY)
    here = extract(given, "--out", tmp_path / "here.jsonl", *flags)
    assert here.exit_code == 0, here.output
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        there = extract(given, "--out", tmp_path / "there.jsonl", "--server", url, *flags)
    assert there.exit_code == 0, there.output
    local, remote = read_data(tmp_path / "here.jsonl"), read_data(tmp_path / "there.jsonl")
    assert comparable(remote) == comparable(local)
    steps = [r for r in remote if isinstance(r, StepRecord)]
    # proved: two steps; with --include-unverified the sorry's step too (the failed one has none)
    assert [(r.item_id, r.tactic) for r in steps] == [
        ("two-steps", "have t := 37"),
        ("two-steps", "exact hp"),
        *([("sorried", "sorry")] if flags else []),
    ]
    assert all(r.time_ms is not None and r.goals_after is not None for r in steps)


def test_a_signed_results_file_gets_its_steps_on_a_server(stack: Stack, tmp_path: Path) -> None:
    given = write_input(tmp_path / "in.jsonl", PROVED, FAILED, SORRY)
    signed = tmp_path / "signed.jsonl"
    first = extract(given, "--out", tmp_path / "a.jsonl", "--signed-results", signed)
    assert first.exit_code == 0, first.output
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        again = extract(signed, "--out", tmp_path / "b.jsonl", "--server", url)
    assert again.exit_code == 0, again.output
    remote = read_data(tmp_path / "b.jsonl")
    assert comparable(remote) == comparable(read_data(tmp_path / "a.jsonl"))
    assert sum(isinstance(r, StepRecord) for r in remote) == 2


def test_the_readme_commands_run_as_written(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Training data from verified proofs", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    monkeypatch.chdir(tmp_path)
    write_input(tmp_path / "attempts.jsonl", PROVED, FAILED, SORRY)
    for words in commands:
        assert words[0] == "proofgate"
        result = runner.invoke(app, words[1:])
        assert result.exit_code == 0, (words, result.output)
    # the second command took the first one's signed verdicts, the unverified ones included
    statuses = {r.verdict.status.value for r in read_data(tmp_path / "data.jsonl")}
    assert statuses == {"proved", "failed", "incomplete"}
