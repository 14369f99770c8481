"""A proof's tactic steps, from Lean's REPL in this process.

The submission is assembled and passed through the policy as the service does (the same file the
pool ran for its verdict); its body runs on a session worker (the service's sandbox and launcher,
its header imported once) with `allTactics`, and each step's tactic then runs again in the step's
proof state on the same worker: that gives the goals after it and its time. A tactic is policy-
checked before it runs again, as a proof session's tactic is.

The REPL's reply is what Lean printed; nothing here decides a verdict (the audited verdict comes
from the service or a signed record). Untested against real Lean here: the stand-in REPL answers
`allTactics` where bench/simulated_tactics.py models it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proofgate.exceptions import ReplCommandError, ReplError, SubmissionError
from proofgate.lean.header import map_body_positions, split_header
from proofgate.lean.reply import ReplReply, ReplTactic
from proofgate.lean.session_workers import SessionWorker, SessionWorkers
from proofgate.models import Position, Submission
from proofgate.service import CheckerService
from proofgate.sessions.tactics import check_tactic
from proofgate.verify.assemble import assemble
from proofgate.verify.completion import read_lean_input
from proofgate.verify.policy import PolicyConfig, check_submission, effective_profile

__all__ = ["LocalSteps", "Step", "StepRun"]


@dataclass(frozen=True)
class Step:
    """One entry of the REPL's `tactics`, with what running it again said."""

    tactic: str
    pos: Position
    end_pos: Position
    goals_before: str
    used_constants: list[str] | None
    goals_after: list[str] | None = None
    time_ms: float | None = None
    note: str | None = None


@dataclass
class StepRun:
    """The file Lean ran (None when it did not run) and its steps, or why there are none."""

    code: str | None
    steps: list[Step] = field(default_factory=list)
    note: str | None = None


def _position(pos: Any) -> Position:
    return Position(line=max(1, pos.line), column=pos.column)


class LocalSteps:
    """Steps from REPL workers of an in-process `CheckerService` (started, ready)."""

    def __init__(self, service: CheckerService) -> None:
        self._service = service
        self._workers: SessionWorkers | None = None

    def _pool(self) -> SessionWorkers:
        if self._workers is None:
            spawner, launcher = self._service.repl_backend()  # NotReady when it cannot verify
            self._workers = SessionWorkers(
                self._service.settings, spawner=spawner, launcher=launcher
            )
        return self._workers

    async def close(self) -> None:
        if self._workers is not None:
            await self._workers.close()

    async def steps(self, submission: Submission) -> StepRun:
        """The steps of `submission`'s proof. Raises `NotReady` or `Busy` (the caller's run cannot
        go on); anything the submission causes is said in the run's note."""
        settings = self._service.settings
        try:
            environment = self._service.environment(submission.environment)
            assembled = assemble(read_lean_input(submission))
        except SubmissionError as exc:
            return StepRun(None, note=f"not run: {exc}")
        config = PolicyConfig.from_settings(
            settings,
            profile=effective_profile(settings.policy, submission.policy),
            environment=environment,
        )
        policy = check_submission(assembled, config)
        if not policy.ok or assembled.target_missing is not None:
            return StepRun(None, note="not run: the policy or the assembly refused it")
        split = split_header(policy.code)
        timeout = self._service.timeout(submission.timeout)
        pool = self._pool()
        try:
            worker = await pool.attach(environment, split.header)
        except SubmissionError as exc:
            return StepRun(None, note=f"not run: {exc}")
        try:
            worker.commands += 1
            reply = await worker.repl.command(
                split.body, env=worker.header_env, all_tactics=True, timeout=timeout
            )
        except ReplError as exc:
            pool.after_command(worker)
            pool.detach(worker)
            return StepRun(policy.code, note=f"the REPL run failed: {exc}")
        try:
            return await self._run_again(
                worker, map_body_positions(reply, split.header_lines), config, timeout, policy.code
            )
        finally:
            pool.after_command(worker)
            pool.detach(worker)

    async def _run_again(
        self,
        worker: SessionWorker,
        reply: ReplReply,
        config: PolicyConfig,
        timeout: float,
        code: str,
    ) -> StepRun:
        """The run's steps, each tactic run again; once the worker is lost, the rest say so."""
        raw = reply.raw.get("tactics") or []
        run = StepRun(code)
        lost: ReplError | None = None
        for index, tactic in enumerate(reply.tactics):
            listed = raw[index] if index < len(raw) and isinstance(raw[index], dict) else {}
            used = list(tactic.used_constants) if "usedConstants" in listed else None
            again: dict[str, Any] = {"note": f"not run again: the worker stopped ({lost})"}
            if lost is None:
                try:
                    again = await self._again(worker, tactic, config, timeout)
                except ReplError as exc:
                    lost = exc
                    again = {"note": f"not run again: the worker stopped ({exc})"}
            run.steps.append(
                Step(
                    tactic=tactic.tactic,
                    pos=_position(tactic.pos),
                    end_pos=_position(tactic.end_pos),
                    goals_before=tactic.goals,
                    used_constants=used,
                    **again,
                )
            )
        if not run.steps and reply.has_errors:
            run.note = (
                f"Lean reported an error and listed no tactic step: {reply.errors[0].data[:300]}"
            )
        elif not run.steps:
            run.note = "the REPL listed no tactic step (a term-mode proof has none)"
        return run

    async def _again(
        self, worker: SessionWorker, tactic: ReplTactic, config: PolicyConfig, timeout: float
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
