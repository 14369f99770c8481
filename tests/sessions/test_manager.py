"""Proof sessions on the stand-in stack: the simulated REPL behind real session workers, the real
pool, policy and auditor (with the stand-in checker) behind `finish`.

The generic stand-in is steered by markers in the Lean text (`-- standin: goal ...`, `sorry`,
`error`, `error-state`, `give-up`, `report-state`); the transcript tests replay the REPL's own
recorded proof-state sessions (on the empty header's env: `tests.sessions.transcripts`), where any command
other than the recorded one kills the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proofgate import service as service_module
from proofgate.environments.registry import Environment
from proofgate.exceptions import NotReady, SessionLimitReached, SessionNotFound, SubmissionError
from proofgate.models import VerdictStatus
from proofgate.models.sessions import OpenSessionRequest
from proofgate.service import CheckerService
from proofgate.sessions import SessionManager
from tests.conftest import TRANSCRIPTS_DIR
from tests.sessions.transcripts import on_the_header_env
from tests.support.stack import Stack, make_stack, running_service

GOAL = "p q : Prop\\nhp : p\\nhq : q\\n⊢ p ∧ q"
STATEMENT = f"""import Mathlib

theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  -- standin: goal {GOAL}
  -- standin: sorry
  sorry
"""
SPLIT = "constructor\n  -- standin: goal ⊢ p\n  -- standin: goal ⊢ q"


_managers: dict[int, SessionManager] = {}


def sessions_of(service: CheckerService) -> SessionManager:
    """The session manager of `service` in this test, built as the app's lifespan builds it."""
    if id(service) not in _managers:
        _managers[id(service)] = SessionManager(service)
    return _managers[id(service)]


@pytest.fixture(autouse=True)
async def _close_session_managers(_no_standin_outlives_its_test: None) -> AsyncIterator[None]:
    yield
    while _managers:
        await _managers.popitem()[1].close()


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path, cache_enabled=False)


@pytest.fixture
async def service(stack: Stack) -> AsyncIterator[CheckerService]:
    async with running_service(stack) as started:
        yield started


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _commands(manager: SessionManager) -> int:
    workers = manager._workers
    return sum(w.commands for w in workers._workers) if workers else 0


# --- the tree ------------------------------------------------------------------------------


async def test_open_gives_the_root_goal_and_tactics_branch_into_a_tree(
    service: CheckerService,
) -> None:
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    assert info.target == "t"
    assert info.root.state == 0 and info.root.goals == ["p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"]
    sid = info.session_id

    split = await sessions.run_tactic(sid, 0, SPLIT)
    assert split.ok and split.state is not None
    assert (split.state.state, split.state.parent, split.state.goals) == (1, 0, ["⊢ p", "⊢ q"])
    other = await sessions.run_tactic(sid, 0, "exact ⟨hp, hq⟩")  # a second child of state 0
    assert other.state is not None and (other.state.state, other.state.parent) == (2, 0)
    assert other.state.status == "no_goals"
    deeper = await sessions.run_tactic(sid, 1, "exact hp\n  -- standin: goal ⊢ q")
    assert deeper.state is not None and (deeper.state.state, deeper.state.parent) == (3, 1)
    assert deeper.state.depth == 2 and deeper.state.goals == ["⊢ q"]

    proof = sessions.proof(sid, 3)
    assert proof.tactics == [SPLIT, "exact hp\n  -- standin: goal ⊢ q"]
    assert proof.proof.splitlines()[:2] == ["by", "  constructor"]
    assert "  exact hp" in proof.proof.splitlines() and "exact ⟨hp, hq⟩" not in proof.proof
    assert proof.code.startswith("import Mathlib\n\ntheorem t (p q : Prop)")
    assert proof.code.count("sorry") == 0  # the target's `sorry` is replaced by the path
    assert sessions.proof(sid, 2).proof == "by\n  exact ⟨hp, hq⟩"
    assert sessions.proof(sid, 0).proof == "by" and sessions.proof(sid, 0).code == STATEMENT


async def test_finish_is_proved_only_by_the_full_check(service: CheckerService) -> None:
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    done = await sessions.run_tactic(info.session_id, 0, "exact ⟨hp, hq⟩")
    assert done.state is not None and done.state.status == "no_goals"
    assert "finish" in done.feedback and "proved" not in done.feedback
    verdict = await sessions.finish(info.session_id, done.state.state)
    assert verdict.status is VerdictStatus.proved and verdict.target == "t"
    with pytest.raises(SubmissionError) as info_root:
        await sessions.finish(info.session_id, 0)
    assert info_root.value.field == "state"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ({"axioms": ["propext", "sorryAx"]}, VerdictStatus.incomplete),
        ({"axioms": ["propext", "cheat"]}, VerdictStatus.axiom_violation),
        (
            {"report": {"outcome": "type_mismatch", "detail": "changed"}},
            VerdictStatus.statement_mismatch,
        ),
    ],
)
async def test_finish_never_says_proved_when_the_trusted_check_disagrees(
    stack: Stack, service: CheckerService, scenario: dict[str, object], expected: VerdictStatus
) -> None:
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    done = await sessions.run_tactic(info.session_id, 0, "exact ⟨hp, hq⟩")
    assert done.state is not None and done.state.status == "no_goals"  # tactic mode is satisfied
    stack.scenario(**scenario)
    verdict = await sessions.finish(info.session_id, done.state.state)
    assert verdict.status is expected
    assert verdict.status is not VerdictStatus.proved


async def test_lean_errors_make_no_state_and_keep_the_goals(service: CheckerService) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    refused = await sessions.run_tactic(
        sid, 0, "exact foo -- standin: error unknown identifier 'foo'"
    )
    assert refused.outcome == "error" and refused.state is None
    assert refused.reason == "unknown identifier 'foo'"
    assert "goals of state 0, unchanged" in refused.feedback and "⊢ p ∧ q" in refused.feedback
    in_state = await sessions.run_tactic(
        sid, 0, "exact bar -- standin: error-state Unknown identifier `bar`"
    )
    assert in_state.outcome == "error" and in_state.state is None
    assert in_state.messages and in_state.messages[0].text == "Unknown identifier `bar`"
    gave_up = await sessions.run_tactic(sid, 0, "sorry -- standin: give-up")
    assert gave_up.state is not None and gave_up.state.status == "sorry"
    assert gave_up.state.state == 1  # the failed tactics made no state


async def test_unknown_session_and_state_never_reach_the_repl(service: CheckerService) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    sent = _commands(sessions)
    with pytest.raises(SessionNotFound, match="no state 7"):
        await sessions.run_tactic(sid, 7, "exact hp")
    with pytest.raises(SessionNotFound, match="no session"):
        await sessions.run_tactic("nope", 0, "exact hp")
    with pytest.raises(SessionNotFound):
        sessions.proof(sid, 3)
    assert _commands(sessions) == sent


async def test_a_stale_repl_id_is_rebuilt_rather_than_answered(service: CheckerService) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    sessions._sessions[sid].repl_ids[0] = 99
    outcome = await sessions.run_tactic(
        sid, 0, "skip\n  -- standin: goal ⊢ x\n  -- standin: report-state"
    )
    assert outcome.ok, outcome.reason  # "Unknown proof state." made it re-elaborate, once
    assert outcome.state is not None and outcome.state.messages[0].text == "ran on proofState 1"


# --- tactics refused before Lean -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tactic", "reason"),
    [
        ("exact hp\n#eval IO.Process.exit 0", "column 0"),
        ("#exit", "policy"),
        ("simp /- unterminated", "unterminated"),
        ("   \n  ", "empty"),
        ("exact hp\r\n  rfl", "carriage return"),
        ('exact (show p from by\n  run_cmd IO.println "x")', "policy"),
    ],
)
async def test_tactics_are_refused_before_lean_sees_them(
    service: CheckerService, tactic: str, reason: str
) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    sent = _commands(sessions)
    outcome = await sessions.run_tactic(sid, 0, tactic)
    assert outcome.outcome == "rejected" and outcome.state is None
    assert reason in outcome.reason
    assert _commands(sessions) == sent


async def test_a_policy_refusal_is_placed_in_the_tactics_own_text(service: CheckerService) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    outcome = await sessions.run_tactic(sid, 0, "skip\n  set_option debug.skipKernelTC true in rfl")
    assert outcome.outcome == "rejected" and outcome.violations
    assert outcome.violations[0].line == 2


async def test_statements_are_checked_when_a_session_opens(service: CheckerService) -> None:
    sessions = sessions_of(service)
    with pytest.raises(SubmissionError, match="policy"):
        await sessions.open(
            OpenSessionRequest(statement="import Mathlib\n#exit\ntheorem t : True := by sorry")
        )
    with pytest.raises(SubmissionError, match="no open goal"):  # Lean's one sorry is elsewhere
        await sessions.open(
            OpenSessionRequest(
                statement="import Mathlib\n-- standin: sorry\ntheorem t : True := by sorry"
            )
        )
    broken = STATEMENT.replace("-- standin: sorry", "-- standin: error unknown identifier 'x'")
    with pytest.raises(SubmissionError, match="does not elaborate"):
        await sessions.open(OpenSessionRequest(statement=broken))
    with pytest.raises(SubmissionError, match="import-not-allowed"):
        await sessions.open(OpenSessionRequest(statement="import Standin.Missing\n" + STATEMENT))
    with pytest.raises(SubmissionError) as unknown:
        await sessions.open(OpenSessionRequest(statement=STATEMENT, environment="nope"))
    assert unknown.value.field == "environment"


async def test_a_session_takes_the_services_environment_and_looks_up_nothing(
    service: CheckerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, item 7: a session's environment is `CheckerService.environment`'s, looked up
    in what the service found at start; opening a session discovers nothing again."""

    def no_lookup(settings: object) -> dict[str, Environment]:
        raise AssertionError("an environment was looked up again")

    monkeypatch.setattr(service_module, "discover_environments", no_lookup)
    monkeypatch.setattr(
        "proofgate.sessions.manager.discover_environments", no_lookup, raising=False
    )
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    assert info.environment == "default"
    with pytest.raises(SubmissionError, match="unknown environment 'nope'"):
        await sessions.open(OpenSessionRequest(statement=STATEMENT, environment="nope"))


# --- workers: sharing, loss, replay ----------------------------------------------------------


async def test_sessions_share_a_worker_and_map_its_ids_to_their_own(
    service: CheckerService,
) -> None:
    sessions = sessions_of(service)
    first = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    second = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    probe = "skip\n  -- standin: goal ⊢ x\n  -- standin: report-state"
    on_second = await sessions.run_tactic(second.session_id, 0, probe)
    on_first = await sessions.run_tactic(first.session_id, 0, probe)
    assert on_second.state is not None and on_first.state is not None
    assert on_second.state.state == 1 and on_first.state.state == 1  # each session's own ids
    assert on_second.state.messages[0].text == "ran on proofState 1"  # the REPL's are global
    assert on_first.state.messages[0].text == "ran on proofState 0"
    assert sessions.stats()["workers"]["started"] == 1  # type: ignore[index]


async def test_a_worker_killed_mid_session_is_replaced_and_the_session_replays(
    service: CheckerService,
) -> None:
    sessions = sessions_of(service)
    sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
    split = await sessions.run_tactic(sid, 0, SPLIT)
    assert split.state is not None
    (pid,) = sessions.stats()["workers"]["sessions_by_worker"]  # type: ignore[index]
    os.kill(pid, signal.SIGKILL)
    probe = "exact hp\n  -- standin: goal ⊢ q\n  -- standin: report-state"
    outcome = await sessions.run_tactic(sid, split.state.state, probe)
    assert outcome.ok, outcome.reason
    assert outcome.state is not None and (outcome.state.state, outcome.state.parent) == (2, 1)
    # On the fresh worker: the statement is state 0 again, the replayed split state 1.
    assert outcome.state.messages[0].text == "ran on proofState 1"
    stats = sessions.stats()
    assert stats["replays"] == 1 and stats["workers"]["started"] == 2  # type: ignore[index]
    assert pid not in stats["workers"]["sessions_by_worker"]  # type: ignore[index]
    assert sessions.proof(sid, 2).tactics == [SPLIT, probe]


async def test_a_timed_out_tactic_costs_its_worker_but_not_the_session(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, cache_enabled=False, request_timeout=1.0)
    async with running_service(stack) as service:
        sessions = sessions_of(service)
        sid = (await sessions.open(OpenSessionRequest(statement=STATEMENT))).session_id
        hung = await sessions.run_tactic(sid, 0, "skip -- standin: hang")
        assert hung.outcome == "timeout" and hung.state is None
        after = await sessions.run_tactic(sid, 0, "exact ⟨hp, hq⟩")
        assert after.ok and after.state is not None and after.state.state == 1
        assert sessions.stats()["replays"] == 1


# --- lifetime and limits ---------------------------------------------------------------------


async def test_sessions_expire_after_their_idle_ttl(service: CheckerService) -> None:
    clock = FakeClock()
    sessions = SessionManager(service, clock=clock)
    try:
        first = await sessions.open(OpenSessionRequest(statement=STATEMENT))
        clock.now += service.settings.session_ttl - 1
        assert (await sessions.run_tactic(first.session_id, 0, "exact ⟨hp, hq⟩")).ok  # touched
        clock.now += service.settings.session_ttl - 1
        assert sessions.state(first.session_id, 1).status == "no_goals"
        clock.now += service.settings.session_ttl + 1
        with pytest.raises(SessionNotFound, match="expired"):
            await sessions.run_tactic(first.session_id, 0, "exact hp")
        second = await sessions.open(OpenSessionRequest(statement=STATEMENT))
        clock.now += service.settings.session_ttl + 1
        sessions.sweep()
        assert sessions.stats()["open"] == 0
        assert sessions.stats()["workers"]["sessions_by_worker"] == {  # type: ignore[index]
            pid: 0
            for pid in sessions.stats()["workers"]["sessions_by_worker"]  # type: ignore[index]
        }
        with pytest.raises(SessionNotFound, match="expired"):
            sessions.proof(second.session_id, 0)
    finally:
        await sessions.close()


async def test_each_key_has_its_own_sessions_and_limit(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, cache_enabled=False, max_sessions_per_key=2)
    async with running_service(stack) as service:
        sessions = sessions_of(service)
        request = OpenSessionRequest(statement=STATEMENT)
        mine = [await sessions.open(request, owner="alice") for _ in range(2)]
        with pytest.raises(SessionLimitReached, match="limit is 2"):
            await sessions.open(request, owner="alice")
        theirs = await sessions.open(request, owner="bob")
        with pytest.raises(SessionNotFound):  # another key's session does not exist for bob
            await sessions.run_tactic(mine[0].session_id, 0, "exact hp", owner="bob")
        with pytest.raises(SessionNotFound):
            await sessions.run_tactic(theirs.session_id, 0, "exact hp")  # nor for the keyless
        await sessions.close_session(mine[0].session_id, owner="alice")
        with pytest.raises(SessionNotFound, match="closed"):
            sessions.proof(mine[0].session_id, 0, owner="alice")
        assert (await sessions.open(request, owner="alice")).session_id  # a free place again


async def test_sessions_need_a_ready_service(stack: Stack) -> None:
    service = CheckerService(stack.settings)  # no stand-ins: no Lean, not ready
    await service.start()
    try:
        with pytest.raises(NotReady, match=re.escape("v4.32.0")):
            await sessions_of(service).open(OpenSessionRequest(statement=STATEMENT))
        with pytest.raises(SubmissionError, match="policy"):  # the statement is judged first
            await sessions_of(service).open(
                OpenSessionRequest(statement="#exit\ntheorem t : True := by sorry")
            )
    finally:
        await service.close()


# --- the REPL's own recorded proof-state sessions ---------------------------------------------


def _transcript(
    name: str, into: Path
) -> tuple[Path, list[dict[str, object]], list[dict[str, object]]]:
    """The recorded session `name` as a session worker sends it (written under `into`), with the
    recording's own commands and replies."""
    path = TRANSCRIPTS_DIR / "core" / f"{name}.in"
    if not path.exists():
        pytest.skip(
            f"shared REPL transcripts not found at {TRANSCRIPTS_DIR} (set PROOFGATE_SHARED_DIR)"
        )
    commands = [
        json.loads(block) for block in path.read_text("utf-8").split("\n\n") if block.strip()
    ]
    expected = path.with_name(f"{name}.expected.out").read_text("utf-8")
    replies = [json.loads(block) for block in expected.split("\n\n") if block.strip()]
    return on_the_header_env(path, into), commands, replies


@pytest.fixture
def replay_stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path, cache_enabled=False, prewarm_headers=[])


async def test_recorded_proof_branching_session(replay_stack: Stack, tmp_path: Path) -> None:
    path, commands, replies = _transcript("proof_branching", tmp_path / "transcripts")
    async with running_service(replay_stack, "--replay", str(path)) as service:
        sessions = sessions_of(service)
        info = await sessions.open(OpenSessionRequest(statement=str(commands[0]["cmd"])))
        assert info.target == "complex_and"
        assert info.root.goals == [replies[0]["sorries"][0]["goal"]]  # type: ignore[index]
        state = 0
        for command, reply in zip(commands[1:], replies[1:], strict=True):
            outcome = await sessions.run_tactic(info.session_id, state, str(command["tactic"]))
            assert outcome.ok and outcome.state is not None, outcome.reason
            assert outcome.state.goals == reply["goals"]
            state = outcome.state.state
        assert outcome.state.status == "no_goals" and state == 4


async def test_recorded_session_survives_its_worker_by_replaying_the_same_commands(
    replay_stack: Stack, tmp_path: Path
) -> None:
    path, commands, replies = _transcript("proof_branching", tmp_path / "transcripts")
    async with running_service(replay_stack, "--replay", str(path)) as service:
        sessions = sessions_of(service)
        sid = (
            await sessions.open(OpenSessionRequest(statement=str(commands[0]["cmd"])))
        ).session_id
        for state, command in enumerate(commands[1:3]):
            assert (await sessions.run_tactic(sid, state, str(command["tactic"]))).ok
        (pid,) = sessions.stats()["workers"]["sessions_by_worker"]  # type: ignore[index]
        os.kill(pid, signal.SIGKILL)
        # The replacement replays cmd, tactic 1, tactic 2 exactly as recorded, then tactic 3.
        outcome = await sessions.run_tactic(sid, 2, str(commands[3]["tactic"]))
        assert outcome.ok and outcome.state is not None, outcome.reason
        assert outcome.state.goals == replies[3]["goals"] and outcome.state.state == 3


async def test_recorded_by_cases_branches_from_one_state_twice(
    replay_stack: Stack, tmp_path: Path
) -> None:
    path, commands, replies = _transcript("by_cases", tmp_path / "transcripts")
    async with running_service(replay_stack, "--replay", str(path)) as service:
        sessions = sessions_of(service)
        sid = (
            await sessions.open(OpenSessionRequest(statement=str(commands[0]["cmd"])))
        ).session_id
        cases = await sessions.run_tactic(sid, 0, str(commands[1]["tactic"]))
        assert cases.state is not None and len(cases.state.goals) == 2
        pos = await sessions.run_tactic(sid, 1, str(commands[2]["tactic"]))
        given_up = await sessions.run_tactic(sid, 1, str(commands[3]["tactic"]))
        assert pos.state is not None and pos.state.goals == replies[2]["goals"]
        assert given_up.state is not None and given_up.state.status == "sorry"
        assert (pos.state.parent, given_up.state.parent) == (1, 1)
        assert (pos.state.state, given_up.state.state) == (2, 3)  # REPL ids 2 and 5


async def test_recorded_invalid_tactic_is_an_error_not_a_state(
    replay_stack: Stack, tmp_path: Path
) -> None:
    path, commands, _ = _transcript("invalid_tactic", tmp_path / "transcripts")
    async with running_service(replay_stack, "--replay", str(path)) as service:
        sessions = sessions_of(service)
        sid = (
            await sessions.open(OpenSessionRequest(statement=str(commands[0]["cmd"])))
        ).session_id
        outcome = await sessions.run_tactic(sid, 0, str(commands[1]["tactic"]))
        assert outcome.outcome == "error" and outcome.state is None
        assert "Unknown identifier `my_fake_premise`" in outcome.reason


async def test_recorded_tactic_errors_from_the_repl_are_errors(
    replay_stack: Stack, tmp_path: Path
) -> None:
    path, commands, _ = _transcript("unknown_tactic", tmp_path / "transcripts")
    statement = str(commands[0]["cmd"])
    assert statement.startswith("def ")  # not a theorem: a session refuses it before Lean
    async with running_service(replay_stack, "--replay", str(path)) as service:
        with pytest.raises(SubmissionError, match="theorem"):
            await sessions_of(service).open(OpenSessionRequest(statement=statement))
    await asyncio.sleep(0)


async def test_a_permissive_session_runs_and_records_the_rewritten_tactic(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, cache_enabled=False, policy="permissive")  # the loosest allowed
    async with running_service(stack) as service:
        await _permissive_session(service)


async def _permissive_session(service: CheckerService) -> None:
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT, policy="permissive"))
    outcome = await sessions.run_tactic(
        info.session_id, 0, "set_option maxHeartbeats 5000000 in\n  exact ⟨hp, hq⟩"
    )
    assert outcome.ok and outcome.state is not None
    assert "maxHeartbeats 1000000" in (outcome.state.tactic or "")
    assert "5000000" not in sessions.proof(info.session_id, 1).code
    verdict = await sessions.finish(info.session_id, 1)
    assert verdict.status is VerdictStatus.proved


async def test_finish_on_open_goals_is_incomplete_without_lean(
    service: CheckerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 30, defect 9: a state with open goals is `incomplete` with its goals; the full check
    (and Lean) is not asked."""
    sessions = sessions_of(service)
    info = await sessions.open(OpenSessionRequest(statement=STATEMENT))
    step = await sessions.run_tactic(info.session_id, 0, "constructor\n  -- standin: goal ⊢ q")
    assert step.state is not None and step.state.status == "open"

    async def no_check(*args: object, **kwargs: object) -> None:
        raise AssertionError("finish asked the full check about a state with open goals")

    monkeypatch.setattr(service, "check", no_check)
    verdict = await sessions.finish(info.session_id, step.state.state)
    assert verdict.status is VerdictStatus.incomplete and verdict.target == "t"
    assert verdict.messages[0].goals == step.state.goals == ["⊢ q"]
    assert "1 open goal" in verdict.reason and "⊢ q" in verdict.feedback
