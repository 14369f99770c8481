"""Interactive proof sessions: step through tactics on a locked statement, branch, then finish.

A session elaborates its statement on a long-lived worker (`proofgate.lean.session_workers`) and
keeps the target's `sorry` as state 0. A tactic on any state makes a new state, so the history is
a tree; the REPL's proof-state ids (global to a worker) are mapped to the session's own 0, 1, 2...
When the worker is lost (crash, timeout of another session's tactic, recycling), the session
re-elaborates its statement on a fresh worker and replays the tactic path to the state it needs:
the client never sees the REPL's ids change.

Trust: the REPL's tactic mode is known to accept incorrect proofs (leanprover-community/repl
issue 44), so a session never says `proved`. `finish` assembles the statement with the tactic path
as a `by` block and runs the full `CheckerService.check` (policy, compile, trusted audit), which
alone decides.

Tactic text: never client JSON; the REPL command is built here. Each tactic is refused before Lean
sees it when it is empty or too long, holds an unterminated comment or string, has a line after
the first that starts at column 0 (in the assembled proof every line is indented under `by`, so
such a line would mean something else there than in tactic mode), or fails the policy pass run on
the probe `by` + the indented tactic. `;` is allowed: in Lean 4 it only sequences tactics and
cannot end a command. A tactic could still close the `by` block in the assembled file; `finish`
therefore runs the policy over the whole file and the audit compares the target's type, as for
any submitted proof.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from proofgate.exceptions import (
    NotReady,
    ReplCommandError,
    ReplError,
    ReplOutOfMemory,
    ReplTimeout,
    SessionLimitReached,
    SessionNotFound,
    SubmissionError,
)
from proofgate.lean.header import split_header
from proofgate.lean.repl import WORKER_LOST
from proofgate.lean.reply import ReplReply
from proofgate.lean.session_workers import SessionWorker, SessionWorkers
from proofgate.logs import get_logger
from proofgate.models import Category, Message, Severity, Submission, Verdict, VerdictStatus
from proofgate.models.sessions import (
    OpenSessionRequest,
    Outcome,
    ProofSnippet,
    ProofState,
    SessionInfo,
    TacticOutcome,
)
from proofgate.models.tenant import ANONYMOUS, LOCAL
from proofgate.sessions.tactics import TacticCheck, check_tactic, render_step
from proofgate.sessions.tree import (
    Node,
    ReplayFailed,
    Session,
    lean_error,
    materialize,
    tactic_failure,
)
from proofgate.ticks import sleep_on_grid
from proofgate.verify.assemble import assemble, parse_statement
from proofgate.verify.feedback import messages_from_repl
from proofgate.verify.policy import PolicyConfig, check_submission

if TYPE_CHECKING:
    from proofgate.config import Settings
    from proofgate.environments.registry import Environment
    from proofgate.lean.launch import ReplLauncher
    from proofgate.sandbox.process import Spawner

__all__ = ["CheckingService", "SessionManager"]

#: The placeholder proof used to validate a statement's shape and policy when a session opens.
_PLACEHOLDER_PROOF = "by\n  sorry"
#: Ended sessions remembered, so a late request hears "expired" rather than "unknown".
_REMEMBER_ENDED = 4096

_log = get_logger("proofgate.sessions")


class CheckingService(Protocol):
    """What sessions use of the service they belong to (`proofgate.service.CheckerService`)."""

    @property
    def settings(self) -> Settings: ...
    def repl_backend(self) -> tuple[Spawner, ReplLauncher]: ...
    def environment(self, name: str) -> Environment: ...
    async def check(self, submission: Submission, *, tenant: str = ...) -> Verdict: ...


class SessionManager:
    """Every open session of one `CheckerService`; `finish` goes through its full check."""

    def __init__(
        self, service: CheckingService, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._service = service
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._workers: SessionWorkers | None = None
        self._janitor: asyncio.Task[None] | None = None
        self.replays = 0

    @property
    def _settings(self) -> Settings:
        # Read when used: the app builds its manager before the service has started.
        return self._service.settings

    # --- lifecycle -----------------------------------------------------------------------

    def _pool(self) -> SessionWorkers:
        if self._workers is None:
            spawner, launcher = self._service.repl_backend()  # NotReady when it cannot verify
            self._workers = SessionWorkers(
                self._settings, spawner=spawner, launcher=launcher, clock=self._clock
            )
        if self._janitor is None:
            self._janitor = asyncio.get_running_loop().create_task(self._sweep_forever())
        return self._workers

    async def _sweep_forever(self) -> None:
        period = max(0.05, min(30.0, self._settings.session_ttl / 4))
        while True:
            await sleep_on_grid(period)
            try:
                self.sweep()
            except Exception as exc:  # noqa: BLE001 - the janitor must outlive any one bug
                _log.error("session sweep failed", error=repr(exc))

    def sweep(self) -> None:
        """Expire sessions idle past the TTL and retire unused workers."""
        now = self._clock()
        for session in list(self._sessions.values()):
            if now - session.last_used > self._settings.session_ttl and not session.lock.locked():
                self._end(session, "expired")
        if self._workers is not None:
            self._workers.sweep()

    async def close(self) -> None:
        """End every session and kill the session workers."""
        if self._janitor is not None:
            self._janitor.cancel()
            await asyncio.gather(self._janitor, return_exceptions=True)
            self._janitor = None
        for session in list(self._sessions.values()):
            self._end(session, "closed")
        if self._workers is not None:
            await self._workers.close()
            self._workers = None

    def stats(self) -> dict[str, object]:
        return {
            "open": len(self._sessions),
            "replays": self.replays,
            "workers": self._workers.stats() if self._workers is not None else {},
        }

    # --- sessions ------------------------------------------------------------------------

    async def open(self, request: OpenSessionRequest, *, owner: str = LOCAL) -> SessionInfo:
        """Elaborate the statement and return its root state. Raises `SubmissionError` (the
        statement), `SessionLimitReached`, `NotReady` or `Busy`."""
        self.sweep()
        mine = sum(1 for s in self._sessions.values() if s.owner == owner)
        if mine >= self._settings.max_sessions_per_key:
            raise SessionLimitReached(
                f"{'you' if owner == ANONYMOUS else 'this key'} already hold"
                f"{'' if owner == ANONYMOUS else 's'} {mine} open "
                f"sessions (the limit is {self._settings.max_sessions_per_key}): close one with "
                "DELETE /v1/sessions/{id}, or let one expire"
            )
        if len(self._sessions) >= self._settings.max_sessions:
            raise SessionLimitReached(
                f"the server holds its maximum of {self._settings.max_sessions} open sessions: "
                "retry later"
            )
        session = await asyncio.to_thread(self._prepare, request, owner)  # the policy pass: CPU
        async with session.lock:
            try:
                try:
                    await self._materialize(session, 0)
                except WORKER_LOST as exc:  # the worker died: once more
                    _log.warning("session worker lost while opening", error=str(exc)[:200])
                    try:
                        await self._materialize(session, 0)
                    except WORKER_LOST as again:
                        raise NotReady(_lost(again), retry_after=5.0) from again
            except BaseException:
                if session.worker is not None and self._workers is not None:
                    self._workers.detach(session.worker)
                raise
        self._sessions[session.id] = session
        _log.info("session opened", session=session.id, target=session.target)
        return SessionInfo(
            session_id=session.id,
            environment=session.environment.name,
            target=session.target,
            root=session.nodes[0].state,
            ttl_seconds=self._settings.session_ttl,
        )

    def _prepare(self, request: OpenSessionRequest, owner: str) -> Session:
        """Check the statement's shape and policy (no Lean) and build the session around it."""
        environment = self._service.environment(request.environment)
        try:
            placeholder = _submission(request, _PLACEHOLDER_PROOF)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise SubmissionError(f"statement: {first['msg']}", field="statement") from exc
        assembled = assemble(placeholder)
        config = PolicyConfig.from_settings(
            self._settings, profile=request.policy, environment=environment
        )
        policy = check_submission(assembled, config)
        refused = [v for v in policy.violations if v.message.startswith("in the statement: ")]
        if refused:
            summary = "; ".join(f"{v.line}:{v.column} [{v.rule}] {v.message}" for v in refused[:3])
            raise SubmissionError(
                f"the statement is refused by policy: {summary}", field="statement"
            )
        text = policy.statement or request.statement
        statement = parse_statement(text, target=request.target)
        start, end = statement.target.proof_start, statement.target.proof_end
        assert start is not None and end is not None  # a target proved by `sorry` has a value
        split = split_header(text)
        line_start = text.rfind("\n", 0, start) + 1
        line = text[line_start:start]
        indent = line[: len(line) - len(line.lstrip())] + "  "
        return Session(
            id=secrets.token_urlsafe(16),
            owner=owner,
            request=request,
            environment=environment,
            target=statement.target_name,
            header=split.header,
            body=split.body,
            header_lines=split.header_lines,
            target_span=(_line_column(text, start), _line_column(text, end)),
            indent=indent,
            last_used=self._clock(),
            nodes=[Node(ProofState(state=0), None)],
        )

    def _get(self, session_id: str, owner: str) -> Session:
        session = self._sessions.get(session_id)
        if session is not None and session.owner == owner:
            if (
                self._clock() - session.last_used > self._settings.session_ttl
                and not session.lock.locked()
            ):
                self._end(session, "expired")
            else:
                session.last_used = self._clock()
                return session
        how = self._ended.get(session_id) if session is None or session.owner == owner else None
        if how == "expired":
            raise SessionNotFound(
                f"session {session_id} expired after {self._settings.session_ttl:g} s idle: "
                "open a new one (its proof so far is lost with it)"
            )
        if how is not None:
            raise SessionNotFound(f"session {session_id} was {how}: open a new one")
        raise SessionNotFound(f"no session {session_id}: open one with POST /v1/sessions")

    def _end(self, session: Session, how: str) -> None:
        self._sessions.pop(session.id, None)
        self._ended[session.id] = how
        while len(self._ended) > _REMEMBER_ENDED:
            self._ended.popitem(last=False)
        if session.worker is not None and self._workers is not None:
            self._workers.detach(session.worker)
        session.worker = None
        session.repl_ids.clear()
        _log.info("session ended", session=session.id, how=how)

    async def close_session(self, session_id: str, *, owner: str = LOCAL) -> None:
        """End a session now and free its place on its worker."""
        session = self._get(session_id, owner)
        async with session.lock:
            self._end(session, "closed")

    def state(self, session_id: str, state: int, *, owner: str = LOCAL) -> ProofState:
        return self._get(session_id, owner).node(state).state

    def proof(self, session_id: str, state: int, *, owner: str = LOCAL) -> ProofSnippet:
        """The proof at `state` as Lean source: the tactic path and the assembled statement."""
        session = self._get(session_id, owner)
        session.node(state)
        proof = session.proof(state)
        code = session.request.statement
        if state != 0:
            code = assemble(_submission(session.request, proof)).text
        return ProofSnippet(
            session_id=session.id,
            state=state,
            tactics=session.tactics(state),
            proof=proof,
            code=code,
        )

    async def finish(self, session_id: str, state: int, *, owner: str = LOCAL) -> Verdict:
        """The full check (policy, compile, trusted audit) of the proof at `state`: only this
        can say `proved`. Raises what `CheckerService.check` raises."""
        session = self._get(session_id, owner)
        session.node(state)
        if state == 0:
            raise SubmissionError(
                "state 0 is the bare statement: run tactics first, then finish the state that "
                "has no goals left",
                field="state",
            )
        submission = _submission(session.request, session.proof(state))
        node = session.node(state).state
        if node.status == "open":  # Lean need not be asked: the proof is not finished
            session.last_used = self._clock()
            return _unfinished(session.target, state, node.goals, submission)
        verdict = await self._service.check(submission, tenant=session.owner)
        session.last_used = self._clock()
        return verdict

    # --- tactics -------------------------------------------------------------------------

    async def run_tactic(
        self, session_id: str, state: int, tactic: str, *, owner: str = LOCAL
    ) -> TacticOutcome:
        """Run `tactic` on `state`; every outcome of the tactic itself is a `TacticOutcome`.
        Raises `SessionNotFound` for an unknown session or state."""
        session = self._get(session_id, owner)
        before = session.node(state).state
        config = PolicyConfig.from_settings(
            self._settings, profile=session.request.policy, environment=session.environment
        )
        checked = check_tactic(tactic, config)
        tactic = checked.text
        if checked.refusal is not None:
            return self._outcome(
                session, before, tactic, "rejected", checked.refusal, checked=checked
            )
        if len(session.nodes) >= self._settings.max_session_states:
            return self._outcome(
                session,
                before,
                tactic,
                "rejected",
                f"this session already has {len(session.nodes)} states (the limit is "
                f"{self._settings.max_session_states}): finish it or open a new session",
            )
        async with session.lock:
            return await self._run_tactic(session, before, tactic)

    async def _run_tactic(self, session: Session, before: ProofState, tactic: str) -> TacticOutcome:
        timeout = self._settings.request_timeout
        reply: ReplReply | None = None
        for attempt in (1, 2):
            try:
                worker, repl_id = await self._materialize(session, before.state)
            except WORKER_LOST as exc:
                if attempt == 1:
                    continue  # the worker died on the way: once more on a fresh one
                return self._outcome(session, before, tactic, "internal", _lost(exc))
            except (ReplError, SubmissionError, ReplayFailed) as exc:
                return self._outcome(
                    session,
                    before,
                    tactic,
                    "internal",
                    f"state {before.state} could not be rebuilt on a fresh Lean worker ({exc}); "
                    "this is proofgate's fault, not the tactic's: retry, or open a new session",
                )
            try:
                reply = await worker.tactic(tactic, repl_id, timeout=timeout)
            except ReplCommandError as exc:
                if "Unknown proof state" in str(exc) and attempt == 1:
                    session.repl_ids.clear()  # the map is stale: rebuild it, once
                    continue
                return self._outcome(session, before, tactic, "error", lean_error(str(exc)))
            except ReplTimeout:
                return self._outcome(
                    session,
                    before,
                    tactic,
                    "timeout",
                    f"the tactic ran over {timeout:g} s (its worker was killed; the session goes "
                    "on)",
                )
            except ReplOutOfMemory:
                return self._outcome(
                    session,
                    before,
                    tactic,
                    "out_of_memory",
                    "the tactic went over the worker's memory cap (the worker was killed; the "
                    "session goes on)",
                )
            except WORKER_LOST as exc:
                if attempt == 2:
                    return self._outcome(session, before, tactic, "internal", _lost(exc))
                _log.warning(
                    "session worker lost; replaying", session=session.id, error=str(exc)[:200]
                )
                continue
            finally:
                self._pool().after_command(worker)
            break
        if reply is None:
            return self._outcome(session, before, tactic, "internal", "the REPL gave no answer")
        failure = tactic_failure(reply)
        if failure is not None:
            errors = messages_from_repl(reply.errors)
            return self._outcome(session, before, tactic, "error", failure, messages=errors)
        assert reply.proof_state is not None  # tactic_failure refuses a reply without one
        node = session.add_state(before, tactic, reply)
        session.repl_ids[node.state] = reply.proof_state
        return self._outcome(session, before, tactic, "ok", "", new=node)

    async def _materialize(self, session: Session, state: int) -> tuple[SessionWorker, int]:
        """`session_tree.materialize` on this manager's workers, counting replays."""
        worker, repl_id, replayed = await materialize(
            session, self._pool(), state, timeout=self._settings.request_timeout
        )
        if replayed:
            self.replays += 1
        return worker, repl_id

    def _outcome(
        self,
        session: Session,
        before: ProofState,
        tactic: str,
        outcome: Outcome,
        reason: str,
        *,
        new: ProofState | None = None,
        messages: list[Message] | None = None,
        checked: TacticCheck | None = None,
    ) -> TacticOutcome:
        violations = list(checked.violations) if checked is not None else []
        result = TacticOutcome(
            session_id=session.id,
            from_state=before.state,
            outcome=outcome,
            state=new,
            reason=reason,
            messages=messages or [],
            violations=violations,
        )
        result.feedback = render_step(result, tactic, before)
        return result


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def _submission(request: OpenSessionRequest, proof: str) -> Submission:
    """The check of `proof` against the session's statement, with the options it was opened with."""
    return Submission(
        statement=request.statement,
        proof=proof,
        target=request.target,
        environment=request.environment,
        policy=request.policy,
        allowed_axioms=request.allowed_axioms,
    )


def _unfinished(target: str, state: int, goals: list[str], submission: Submission) -> Verdict:
    """`incomplete` for a state with open goals, with its goals, decided without Lean."""
    count = f"{len(goals)} open goal{'s' * (len(goals) != 1)}"
    reason = (
        f"state {state} has {count}: run tactics until a state has none left, then finish that "
        "state"
    )
    message = Message(
        severity=Severity.error, category=Category.unsolved_goals, text=reason, goals=goals
    )
    feedback = reason + "".join(f"\n\n{goal}" for goal in goals)
    return Verdict(
        status=VerdictStatus.incomplete,
        kind="check",
        target=target,
        reason=reason,
        messages=[message],
        feedback=feedback,
        content_hash=submission.content_hash(),
    )


def _lost(exc: Exception) -> str:
    return (
        f"the Lean worker failed twice ({str(exc)[:300]}); this is proofgate's fault, not the "
        "tactic's: retry"
    )
