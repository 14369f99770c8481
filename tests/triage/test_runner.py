"""Triage end to end on stand-ins: the real pool driving the simulated REPL (probes scripted with
conditional markers), the real auditor driving the stand-in checker, the real SQLite cache.

Markers sit in the statement, so every probe file carries them; `with WORD` / `without WORD`
(simulated REPL) pick which probes they act on by the probe's name and tactic. Real-Lean cases at
the end (`lean` marker) are skipped without a toolchain."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from proofgate.exceptions import NotReady, SubmissionError
from proofgate.lean.reply import ReplReply
from proofgate.models import (
    Category,
    ProbeKind,
    ProbeOutcome,
    TriageRequest,
    TriageResult,
)
from proofgate.service import CheckerService
from proofgate.triage.runner import classify_probe, select_closers
from proofgate.verify.assemble import parse_statement
from proofgate.verify.probes import build_probes
from tests.support.stack import make_stack, running_service

FAIL_OTHERS = "-- standin: with proofgate_triage without {needle} error closer failed"


def statement(theorem: str, *markers: str) -> str:
    return "import Mathlib\n\n" + "".join(f"{m}\n" for m in markers) + f"{theorem} := by sorry\n"


def only(*needles: str) -> list[str]:
    """Markers that fail every probe whose text lacks any of `needles`."""
    return [FAIL_OTHERS.format(needle=needle) for needle in needles]


COMM = "theorem k (a b : ℕ) : a + b = b + a"
FALSE = "theorem g : (2 : ℕ) + 2 = 5"
VACUOUS = "theorem f (n : ℕ) (h : n < 0) : n = 5"


async def refilled(service: CheckerService, seconds: float = 10.0) -> None:
    """Wait until the pool has replaced the workers a timeout killed, so closing the service
    cancels no worker mid-spawn."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stats = service.pool_stats()
        if stats is None or (
            not stats.starting_workers and stats.idle_workers >= service.settings.workers
        ):
            return
        await asyncio.sleep(0.05)


def by_outcome(result: TriageResult, outcome: ProbeOutcome) -> list[str]:
    return [f"{p.kind.value}:{p.tactic}" for p in result.probes if p.outcome is outcome]


async def test_elaboration_error_is_reported_like_a_check_and_no_probe_runs(tmp_path: Path) -> None:
    text = statement(COMM, "-- standin: error unknown identifier 'foo'")
    async with running_service(make_stack(tmp_path)) as service:
        result = await service.triage(TriageRequest(statement=text))
        requests = service.pool_stats().requests  # type: ignore[union-attr]
    assert result.elaboration == "failed" and not result.probes and not result.flags
    assert requests == 1
    error = next(m for m in result.messages if m.severity.value == "error")
    assert error.category is Category.unknown_identifier and error.source == "statement"
    assert error.pos is not None and error.pos.line == 3
    assert result.reason == "k does not elaborate: unknown identifier 'foo' (line 3)"
    assert "Fix the statement first; no probe was run" in result.feedback
    assert "3 | -- standin: error unknown identifier 'foo'" in result.feedback
    assert "error[unknown_identifier]: unknown identifier 'foo'" in result.feedback


async def test_trivially_provable_reports_the_first_closer_in_order(tmp_path: Path) -> None:
    # norm_num and omega both close the goal; norm_num comes first in the configured order.
    text = statement(
        COMM,
        *only("proofgate_triage_trivial"),
        "-- standin: with proofgate_triage without norm_num without omega error no",
    )
    async with running_service(make_stack(tmp_path)) as service:
        result = await service.triage(TriageRequest(statement=text))
    assert result.elaboration == "ok" and result.flags == [ProbeKind.trivially_provable]
    assert result.closed_by == {ProbeKind.trivially_provable: "norm_num"}
    first = next(
        p for p in result.probes if p.outcome is ProbeOutcome.closed and p.closer == "norm_num"
    )
    assert first.proof is not None and "theorem proofgate_triage_trivial_3 (a b : ℕ)" in first.proof
    assert first.proof.rstrip().endswith("  norm_num")
    assert by_outcome(result, ProbeOutcome.failed)[:2] == [
        "trivially_provable:decide",
        "disproved:decide",
    ]
    assert "vacuous:intros; exfalso; decide" in by_outcome(result, ProbeOutcome.skipped)
    assert result.reason == "k elaborates; trivially_provable (`norm_num`)"
    assert "- TRIVIALLY PROVABLE: `norm_num` proves it as stated" in result.feedback
    assert not result.disproved and not result.vacuous and result.negation_proof is None


async def test_disproved_needs_the_audit_and_returns_the_negation_proof(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    log = tmp_path / "checker-argv.json"
    stack.scenario(argv_log=str(log))
    text = statement(FALSE, *only("proofgate_triage_disproof", "decide"))
    async with running_service(stack) as service:
        result = await service.triage(TriageRequest(statement=text))
    assert result.disproved and result.flags == [ProbeKind.disproved]
    assert result.closed_by == {ProbeKind.disproved: "decide"}
    assert result.negation_proof is not None
    assert "theorem proofgate_triage_disproof_1 : ¬ (type_of% @_root_.g) := by\n  decide" in (
        result.negation_proof
    )
    audited = [p for p in result.probes if p.audited is not None]
    assert [(p.tactic, p.audited) for p in audited] == [("decide", True)]
    argv = json.loads(log.read_text())["argv"]
    assert argv[argv.index("--target") + 1] == "proofgate_triage_disproof_1"
    assert "- DISPROVED: its negation is proved by `decide`" in result.feedback
    assert "vacuous:intros; exfalso; decide" in by_outcome(result, ProbeOutcome.skipped)


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ({"report": {"outcome": "type_mismatch", "detail": "types differ"}}, "statement_mismatch"),
        ({"axioms": ["propext", "sorryAx"]}, "incomplete"),
        ({"mode": "crash"}, "could not conclude"),
    ],
)
async def test_refused_audit_leaves_disproved_unset(
    tmp_path: Path, scenario: dict[str, object], said: str
) -> None:
    stack = make_stack(tmp_path)
    stack.scenario(**scenario)
    text = statement(FALSE, *only("proofgate_triage_disproof", "decide"))
    async with running_service(stack) as service:
        result = await service.triage(TriageRequest(statement=text))
        entries = (await service._cache.stats()).by_status.get("triage", 0)
    assert not result.disproved and not result.flags and result.negation_proof is None
    closed = [p for p in result.probes if p.outcome is ProbeOutcome.closed]
    assert closed and all(p.kind is ProbeKind.disproved for p in closed)
    assert [p.audited for p in closed][:2] == [False, False]  # both closed negations audited
    assert said in closed[0].detail
    assert "audit did not accept it" in result.reason
    assert "was not accepted" in result.feedback and "`disproved` is not set" in result.feedback
    assert entries == (0 if scenario.get("mode") == "crash" else 1)  # a broken checker: not cached


async def test_vacuous_hypotheses_and_every_flag_that_holds(tmp_path: Path) -> None:
    text = statement(VACUOUS, *only("proofgate_triage_vacuous", "omega"))
    both = statement(VACUOUS, "-- standin: with proofgate_triage_disproof error no", *only("omega"))
    async with running_service(make_stack(tmp_path)) as service:
        vacuous = await service.triage(TriageRequest(statement=text))
        flagged = await service.triage(TriageRequest(statement=both))
    assert vacuous.flags == [ProbeKind.vacuous]
    assert vacuous.closed_by == {ProbeKind.vacuous: "intros; exfalso; omega"}
    assert (
        "- VACUOUS: its hypotheses alone prove False (`intros; exfalso; omega`)" in vacuous.feedback
    )
    assert flagged.flags == [ProbeKind.trivially_provable, ProbeKind.vacuous]
    assert flagged.reason == (
        "f elaborates; vacuous (`intros; exfalso; omega`), trivially_provable (`omega`)"
    )


async def test_all_probes_failing_is_no_flag_and_is_cached(tmp_path: Path) -> None:
    text = statement(VACUOUS, "-- standin: with proofgate_triage error closer failed")
    async with running_service(make_stack(tmp_path)) as service:
        first = await service.triage(TriageRequest(statement=text))
        requests = service.pool_stats().requests  # type: ignore[union-attr]
        again = await service.triage(TriageRequest(statement=text))
        assert service.pool_stats().requests == requests  # type: ignore[union-attr]
    assert not first.flags and not first.cached and again.cached
    assert again.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    ran = [p for p in first.probes if p.outcome is not ProbeOutcome.skipped]
    assert len(ran) == requests - 1 and all(p.outcome is ProbeOutcome.failed for p in ran)
    assert all(p.detail == "closer failed" for p in ran)
    skipped = {p.detail for p in first.probes if p.outcome is ProbeOutcome.skipped}
    assert skipped == {
        "`decide` cannot prove False from hypotheses",
        "`positivity` cannot prove False from hypotheses",
    }
    assert first.reason == "f elaborates; no probe closed"
    assert "- no flag: none of decide, norm_num, simp, omega, linarith, positivity, aesop" in (
        first.feedback
    )


async def test_a_probe_timing_out(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, triage_probe_timeout=1.0)
    text = statement(
        VACUOUS,
        "-- standin: with proofgate_triage_vacuous hang",
        "-- standin: with proofgate_triage without proofgate_triage_vacuous error no",
    )
    async with running_service(stack) as service:
        result = await service.triage(TriageRequest(statement=text, closers=["omega"]))
        entries = (await service._cache.stats()).by_status.get("triage", 0)
        await refilled(service)
    outcomes = {p.kind: p.outcome for p in result.probes if p.tactic.endswith("omega")}
    assert outcomes[ProbeKind.vacuous] is ProbeOutcome.timeout
    vacuous = next(p for p in result.probes if p.kind is ProbeKind.vacuous)
    assert vacuous.detail == "no answer within 1 s" and vacuous.time_ms >= 900
    assert by_outcome(result, ProbeOutcome.failed) == [
        "trivially_provable:omega",
        "disproved:omega",
        "disproved:push_neg; omega",
    ]
    assert not result.flags and entries == 0  # a timeout is not deterministic: not cached
    assert "timeout vacuous            intros; exfalso; omega" in result.feedback


async def test_the_total_budget_running_out(tmp_path: Path) -> None:
    text = statement(VACUOUS, "-- standin: with proofgate_triage sleep 5")
    async with running_service(make_stack(tmp_path)) as service:
        result = await service.triage(TriageRequest(statement=text, budget=1.0))
        await refilled(service)
    assert result.budget == 1.0
    timed_out = by_outcome(result, ProbeOutcome.timeout)
    skipped = [p for p in result.probes if p.outcome is ProbeOutcome.skipped]
    assert 1 <= len(timed_out) <= 2 == service.settings.workers  # only the first wave started
    assert timed_out[0] == "trivially_provable:decide"
    assert sum(p.detail == "the total budget ran out" for p in skipped) >= 20
    assert not by_outcome(result, ProbeOutcome.closed) and not by_outcome(
        result, ProbeOutcome.failed
    )
    assert result.timings.probes_ms < 1000 + 1500  # the budget, and the grace for a pool wait


async def test_budget_is_capped_by_the_server(tmp_path: Path) -> None:
    text = statement(VACUOUS, "-- standin: with proofgate_triage error no")
    async with running_service(make_stack(tmp_path, triage_budget=2.0)) as service:
        result = await service.triage(TriageRequest(statement=text, budget=60, closers=["omega"]))
    assert result.budget == 2.0 and result.closers == ["omega"]


async def test_policy_refusal_needs_no_lean(tmp_path: Path) -> None:
    service = CheckerService(make_stack(tmp_path).settings)  # no stand-ins: nothing can run
    await service.start()
    try:
        refused = await service.triage(TriageRequest(statement="#eval 1\n" + statement(COMM)))
        assert refused.elaboration == "rejected" and refused.violations[0].rule == "eval"
        assert refused.reason.startswith("k is refused by policy: [eval]")
        assert "error[policy]: [eval]" in refused.feedback
        with pytest.raises(NotReady, match="cannot triage"):
            await service.triage(TriageRequest(statement=statement(COMM)))
    finally:
        await service.close()


async def test_malformed_statements_and_closers_name_the_field(tmp_path: Path) -> None:
    async with running_service(make_stack(tmp_path)) as service:
        with pytest.raises(SubmissionError) as info:
            await service.triage(TriageRequest(statement="theorem t : True := trivial\n"))
        assert info.value.field == "statement"
        with pytest.raises(SubmissionError) as info:
            await service.triage(TriageRequest(statement=statement(COMM), closers=["sorry"]))
        assert info.value.field == "closers"
    assert select_closers(None, ["a", "b"]) == ["a", "b"]
    assert select_closers(["b"], ["a", "b"]) == ["b"]
    with pytest.raises(SubmissionError):
        select_closers(["b", "b"], ["a", "b"])


async def test_holes_and_sorried_definitions_are_listed(tmp_path: Path) -> None:
    text = (
        "import Mathlib\n\nabbrev ans : ℕ := sorry\ndef twice (n : ℕ) : ℕ := ans + n\n"
        "-- standin: with proofgate_triage error no\n"
        "theorem t (n : ℕ) (h : twice n = ans) : ans = 5 := by sorry\n"
    )
    async with running_service(make_stack(tmp_path)) as service:
        result = await service.triage(TriageRequest(statement=text, closers=["omega"]))
    assert result.answer_holes == ["ans"] and result.sorried_definitions == ["ans"]
    assert "- answer holes: ans (still `sorry`" in result.feedback


async def test_the_statements_own_sorry_does_not_block_a_probe(tmp_path: Path) -> None:
    text = statement(COMM, "-- standin: sorry", *only("proofgate_triage_trivial", "decide"))
    async with running_service(make_stack(tmp_path)) as service:
        result = await service.triage(TriageRequest(statement=text))
    assert result.closed_by == {ProbeKind.trivially_provable: "decide"}
    assert result.sorries and result.sorries[0].pos is not None  # the elaboration's own sorry


def test_classify_probe_counts_only_the_probes_own_sorry() -> None:
    probe = build_probes(parse_statement(statement(COMM)), ["decide"], heartbeats=0)[0]
    inside, outside = {"line": probe.first_line + 1, "column": 2}, {"line": 1, "column": 0}
    warning = "declaration uses 'sorry'"

    def reply(**fields: object) -> ReplReply:
        return ReplReply.parse({"env": 1, **fields})

    assert classify_probe(reply(), probe) == (ProbeOutcome.closed, "")
    assert (
        classify_probe(
            reply(messages=[{"severity": "warning", "pos": outside, "data": warning}]), probe
        )[0]
        is ProbeOutcome.closed
    )
    for bad in (
        reply(messages=[{"severity": "warning", "pos": inside, "data": warning}]),
        reply(messages=[{"severity": "warning", "pos": None, "data": warning}]),
        reply(sorries=[{"pos": inside, "goal": "⊢ False"}]),
    ):
        assert classify_probe(bad, probe) == (
            ProbeOutcome.failed,
            "the probe still contains a `sorry`",
        )
    error = reply(messages=[{"severity": "error", "pos": outside, "data": "unsolved goals\n⊢ x"}])
    assert classify_probe(error, probe) == (ProbeOutcome.failed, "unsolved goals")


# --- real Lean (skipped without a toolchain) ---------------------------------------------------


def _real_stack(tmp_path: Path) -> CheckerService:
    from proofgate.config import Settings

    return CheckerService(
        Settings(
            data_dir=tmp_path / "data",
            workers=2,
            queue_wait=600,
            triage_budget=120,
            triage_probe_timeout=60,
        )
    )


@pytest.mark.lean
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("theorem", "flag"),
    [
        ("theorem f (n : ℕ) (h : n < 0) : n = 5", ProbeKind.vacuous),
        ("theorem g : (2 : ℕ) + 2 = 5", ProbeKind.disproved),
        ("theorem k (a b : ℕ) : a + b = b + a", ProbeKind.trivially_provable),
    ],
)
async def test_real_lean_known_cases(tmp_path: Path, theorem: str, flag: ProbeKind) -> None:
    service = _real_stack(tmp_path)
    await service.start()
    try:
        result = await service.triage(TriageRequest(statement=statement(theorem), budget=120))
    finally:
        await service.close()
    assert result.elaboration == "ok", result.feedback
    assert flag in result.flags, result.feedback
    if flag is ProbeKind.disproved:
        assert result.negation_proof and "¬ (type_of% @_root_.g)" in result.negation_proof
    else:
        assert not result.disproved, result.feedback
