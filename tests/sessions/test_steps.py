"""A proof's steps as the REPL listed them: what each says of the constants it used."""

from __future__ import annotations

from typing import Any, cast

from proofgate.lean.reply import ReplReply
from proofgate.lean.session_workers import SessionWorker
from proofgate.sessions.steps import _run_again
from proofgate.verify.policy import PolicyConfig


async def test_a_step_the_repl_listed_no_used_constants_for_says_unknown() -> None:
    # The REPL prints `usedConstants` from v4.14.0 on: an older one's steps say unknown (None),
    # a printed empty list says none. No step has a proof state, so none is run again (no worker).
    def tactic(**extra: Any) -> dict[str, Any]:
        place = {"pos": {"line": 1, "column": 22}, "endPos": {"line": 1, "column": 25}}
        return {"tactic": "rfl", "goals": "⊢ 1 = 1", **place, **extra}

    reply = ReplReply.parse(
        {"env": 0, "tactics": [tactic(), tactic(usedConstants=[]), tactic(usedConstants=["Eq"])]}
    )
    worker = cast(SessionWorker, object())
    run = await _run_again(worker, reply, PolicyConfig(), 5.0, "example : 1 = 1 := by rfl")
    assert [step.used_constants for step in run.steps] == [None, [], ["Eq"]]
    assert all(step.note == "the REPL gave this step no proof state" for step in run.steps)
