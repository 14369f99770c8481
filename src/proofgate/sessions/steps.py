"""A proof's tactic steps, from Lean's REPL: the one computation behind
`CheckerService.check_with_tactics` (so behind `proofgate extract`, in-process or on a server).

The caller gives the file the pool ran for its verdict (assembled and passed through the policy by
the service's own preparation) and the policy it ran under. Its body runs on a session worker
(`proofgate.lean.session_workers`: the service's sandbox and launcher, its header imported once,
the tenant's own) with `allTactics`, and each step's tactic then runs again in the step's proof
state on the same worker: that gives the goals after it and its time. A tactic is policy-checked
(`check_tactic`) before it runs again, as a proof session's tactic is.

The REPL's reply is what Lean printed; nothing here decides a verdict. Untested against real Lean
here: the stand-in REPL answers `allTactics` where bench/simulated_tactics.py models it.
"""

from __future__ import annotations

import time
from typing import Any

from proofgate.environments.registry import Environment
from proofgate.exceptions import ReplCommandError, ReplError, SubmissionError
from proofgate.lean.header import map_body_positions, split_header
from proofgate.lean.reply import ReplReply, ReplTactic
from proofgate.lean.session_workers import SessionWorker, SessionWorkers
from proofgate.models import Position
from proofgate.models.steps import TacticStep, TacticSteps
from proofgate.sessions.tactics import check_tactic
from proofgate.verify.policy import PolicyConfig

__all__ = ["tactic_steps"]


def _position(pos: Any) -> Position:
    return Position(line=max(1, pos.line), column=pos.column)


async def tactic_steps(
    workers: SessionWorkers,
    *,
    environment: Environment,
    code: str,
    config: PolicyConfig,
    timeout: float,
    tenant: str,
) -> TacticSteps:
    """The steps of `code` (a file the policy passed under `config`) on `tenant`'s worker of
    `workers`. Raises `NotReady` or `Busy` (no worker); what the code causes is said in the note."""
    split = split_header(code)
    try:
        worker = await workers.attach(environment, split.header, tenant=tenant)
    except SubmissionError as exc:
        return TacticSteps(code=None, note=f"not run: {exc}")
    try:
        worker.commands += 1
        reply = await worker.repl.command(
            split.body, env=worker.header_env, all_tactics=True, timeout=timeout
        )
    except ReplError as exc:
        workers.after_command(worker)
        workers.detach(worker)
        return TacticSteps(code=code, note=f"the REPL run failed: {exc}")
    try:
        return await _run_again(
            worker, map_body_positions(reply, split.header_lines), config, timeout, code
        )
    finally:
        workers.after_command(worker)
        workers.detach(worker)


async def _run_again(
    worker: SessionWorker, reply: ReplReply, config: PolicyConfig, timeout: float, code: str
) -> TacticSteps:
    """The run's steps, each tactic run again; once the worker is lost, the rest say so."""
    run = TacticSteps(code=code)
    lost: ReplError | None = None
    for tactic in reply.tactics:
        used = None if tactic.used_constants is None else list(tactic.used_constants)
        again: dict[str, Any] = {"note": f"not run again: the worker stopped ({lost})"}
        if lost is None:
            try:
                again = await _again(worker, tactic, config, timeout)
            except ReplError as exc:
                lost = exc
                again = {"note": f"not run again: the worker stopped ({exc})"}
        run.steps.append(
            TacticStep(
                tactic=tactic.tactic,
                pos=_position(tactic.pos),
                end_pos=_position(tactic.end_pos),
                goals_before=tactic.goals,
                used_constants=used,
                **again,
            )
        )
    if not run.steps and reply.has_errors:
        run.note = f"Lean reported an error and listed no tactic step: {reply.errors[0].data[:300]}"
    elif not run.steps:
        run.note = "the REPL listed no tactic step (a term-mode proof has none)"
    return run


async def _again(
    worker: SessionWorker, tactic: ReplTactic, config: PolicyConfig, timeout: float
) -> dict[str, Any]:
    """Run `tactic` again in its proof state: its goals after and time, or a note why not.
    A lost worker (timeout, crash) raises: the run's remaining steps cannot be run again."""
    if tactic.proof_state is None:
        return {"note": "the REPL gave this step no proof state"}
    checked = check_tactic(tactic.tactic, config)
    if checked.refusal is not None:
        return {"note": f"not run again: {checked.refusal}"}
    began = time.perf_counter()
    try:
        reply = await worker.tactic(checked.text, tactic.proof_state, timeout=timeout)
    except ReplCommandError as exc:
        return {"note": f"Lean refused it run again: {exc}"}
    elapsed = (time.perf_counter() - began) * 1000
    if reply.has_errors:
        error = reply.errors[0].data[:300]
        return {"time_ms": elapsed, "note": f"Lean reported an error running it again: {error}"}
    return {"goals_after": list(reply.goals), "time_ms": elapsed}
