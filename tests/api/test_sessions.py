"""`/v1/sessions` over real uvicorn on loopback, through `proofgate.Client`, on the stand-in stack."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import psutil
import pytest

import proofgate
from proofgate.exceptions import SessionLimitReached, SessionNotFound, SubmissionError
from proofgate.models import VerdictStatus
from tests.api.conftest import serve_stack
from tests.support.stack import Stack, make_stack

STATEMENT = """import Mathlib

theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  -- standin: goal p q : Prop\\nhp : p\\nhq : q\\n⊢ p ∧ q
  -- standin: sorry
  sorry
"""
SPLIT = "constructor\n  -- standin: goal ⊢ p\n  -- standin: goal ⊢ q"


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    """The conftest's stack, with no cache and at most two sessions per key."""
    return make_stack(tmp_path, cache_enabled=False, max_sessions_per_key=2)


def test_a_session_over_http_from_open_to_a_proved_finish(url: str) -> None:
    with proofgate.Client(url, timeout=30) as client:
        session = client.open_session(STATEMENT)
        assert session.target == "t" and session.root.goals[0].endswith("⊢ p ∧ q")
        sid = session.session_id
        split = client.run_tactic(sid, 0, SPLIT)
        assert split.ok and split.state is not None and split.state.goals == ["⊢ p", "⊢ q"]
        wrong = client.run_tactic(sid, 1, "exact hq -- standin: error type mismatch")
        assert wrong.outcome == "error" and "type mismatch" in wrong.feedback
        left = client.run_tactic(sid, 1, "exact hp\n  -- standin: goal ⊢ q")
        done = client.run_tactic(sid, 2, "exact hq")
        assert left.state is not None and done.state is not None
        assert done.state.status == "no_goals" and done.state.parent == 2
        assert client.session_state(sid, 2).goals == ["⊢ q"]
        snippet = client.session_proof(sid, 3)
        assert snippet.tactics == [SPLIT, "exact hp\n  -- standin: goal ⊢ q", "exact hq"]
        assert snippet.code.rstrip().endswith("  exact hq")
        verdict = client.finish_session(sid, 3)
        assert verdict.status is VerdictStatus.proved and verdict.target == "t"
        client.close_session(sid)
        with pytest.raises(SessionNotFound, match="closed"):
            client.run_tactic(sid, 0, "exact hp")


def test_finish_over_http_follows_the_trusted_check(stack: Stack, url: str) -> None:
    with proofgate.Client(url, timeout=30) as client:
        sid = client.open_session(STATEMENT).session_id
        done = client.run_tactic(sid, 0, "exact ⟨hp, hq⟩")
        assert done.state is not None and done.state.status == "no_goals"
        stack.scenario(axioms=["propext", "sorryAx"])
        verdict = client.finish_session(sid, done.state.state)
        assert verdict.status is VerdictStatus.incomplete


def test_refusals_on_the_wire(url: str) -> None:
    with proofgate.Client(url, timeout=30, retry=proofgate.RetryPolicy(attempts=1)) as client:
        sid = client.open_session(STATEMENT).session_id
        missing = httpx.post(
            f"{url}/v1/sessions/no-such-session/tactic", json={"state": 0, "tactic": "rfl"}
        )
        assert missing.status_code == 404 and missing.json()["error"] == "session_not_found"
        assert missing.json()["request_id"]
        no_state = httpx.get(f"{url}/v1/sessions/{sid}/states/9/proof")
        assert no_state.status_code == 404 and "no state 9" in no_state.json()["message"]
        bad = httpx.post(f"{url}/v1/sessions/{sid}/tactic", json={"state": -1, "tactic": ""})
        assert bad.status_code == 422
        sneaky = httpx.post(
            f"{url}/v1/sessions/{sid}/tactic",
            json={"state": 0, "tactic": "rfl", "pickleTo": "/tmp/x"},  # never passed through
        )
        assert sneaky.status_code == 422
        rejected = client.run_tactic(sid, 0, "exact hp\n#eval IO.Process.exit 0")
        assert rejected.outcome == "rejected"
        with pytest.raises(SubmissionError) as shape:
            client.open_session("theorem t : True := trivial")
        assert shape.value.field == "statement"
        client.open_session(STATEMENT)
        with pytest.raises(SessionLimitReached, match="limit is 2"):
            client.open_session(STATEMENT)
        with pytest.raises(SessionNotFound):
            client.finish_session("no-such-session", 1)
        gone = httpx.delete(f"{url}/v1/sessions/no-such-session")
        assert gone.status_code == 404
        malformed = httpx.delete(f"{url}/v1/sessions/x")  # not an id proofgate hands out
        assert malformed.status_code == 422


def test_the_session_outlives_its_worker_over_http(url: str) -> None:
    with proofgate.Client(url, timeout=30) as client:
        sid = client.open_session(STATEMENT).session_id
        split = client.run_tactic(sid, 0, SPLIT)
        assert split.state is not None
        children = psutil.Process().children(recursive=True)
        workers = [p for p in children if "simulated_repl" in " ".join(p.cmdline())]
        assert workers
        for process in workers:  # every Lean worker dies, the pool's and the session's
            os.kill(process.pid, signal.SIGKILL)
        after = client.run_tactic(sid, 1, "exact hp\n  -- standin: goal ⊢ q")
        assert after.ok and after.state is not None and after.state.state == 2


def test_the_openapi_schema_lists_the_session_routes(url: str) -> None:
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert set(paths["/v1/sessions/{session_id}/states/{state}"]) == {"get"}
    assert set(paths["/v1/sessions/{session_id}"]) == {"delete"}
    assert "404" in paths["/v1/sessions/{session_id}/tactic"]["post"]["responses"]
    assert "429" in paths["/v1/sessions"]["post"]["responses"]


def test_sessions_belong_to_the_api_key_that_opened_them(stack: Stack) -> None:
    from proofgate.store.keys import KeyStore

    assert stack.settings.api_keys_file is not None
    keys = KeyStore(stack.settings.api_keys_file)
    _, alice_token = keys.create("alice")
    _, bob_token = keys.create("bob")
    with serve_stack(stack) as url:
        with (
            proofgate.Client(url, timeout=30, api_key=alice_token) as alice,
            proofgate.Client(url, timeout=30, api_key=bob_token) as bob,
        ):
            mine = [alice.open_session(STATEMENT) for _ in range(2)]
            with pytest.raises(SessionLimitReached):  # alice's limit, not the server's
                alice.open_session(STATEMENT)
            theirs = bob.open_session(STATEMENT)
            with pytest.raises(SessionNotFound):
                bob.run_tactic(mine[0].session_id, 0, "exact ⟨hp, hq⟩")
            with pytest.raises(SessionNotFound):
                alice.session_proof(theirs.session_id, 0)
            assert alice.run_tactic(mine[0].session_id, 0, "exact ⟨hp, hq⟩").ok
            keyless = httpx.get(f"{url}/v1/sessions/{theirs.session_id}/states/0")
            assert keyless.status_code == 401  # keys are configured: no key, no session
