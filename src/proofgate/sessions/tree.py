"""One proof session's tree of states, and where the states live on a REPL worker right now.

The tree is the session's own (ids 0, 1, 2... never change). Its states live on a worker as REPL
proof-state ids, which mean nothing on another worker: `materialize` gives the REPL id of a state on
the session's current worker, elaborating the statement and replaying the tactic path from state 0
where the worker is new (after a crash, a timeout, recycling). Nothing here talks to the client.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from proofgate.environments.registry import Environment
from proofgate.exceptions import (
    ReplCommandError,
    ReplOutOfMemory,
    ReplTimeout,
    SessionNotFound,
    SubmissionError,
)
from proofgate.lean.header import map_body_positions
from proofgate.lean.reply import ReplReply
from proofgate.lean.session_workers import SessionWorker, SessionWorkers
from proofgate.models.sessions import OpenSessionRequest, ProofState, StateStatus
from proofgate.sessions.tactics import indent_tactic
from proofgate.verify.feedback import messages_from_repl

__all__ = ["Node", "ReplayFailed", "Session", "lean_error", "materialize", "tactic_failure"]


class ReplayFailed(Exception):
    """The history did not replay on a fresh worker. Internal: `proofgate.sessions` turns it
    into an `internal` tactic outcome, it never reaches a client as an exception."""


@dataclass
class Node:
    state: ProofState
    tactic: str | None


@dataclass(eq=False)
class Session:
    """One open session: its statement, its tree of states, and where they live now."""

    id: str
    owner: str  # the tenant (`proofgate.models.tenant`) the session belongs to
    request: OpenSessionRequest
    environment: Environment
    target: str
    header: str
    body: str
    header_lines: int
    target_span: tuple[tuple[int, int], tuple[int, int]]  # (line, column) start and end
    indent: str  # what each tactic line is indented by in the assembled proof
    last_used: float
    nodes: list[Node] = field(default_factory=list)
    worker: SessionWorker | None = None
    repl_ids: dict[int, int] = field(default_factory=dict)  # session state -> REPL proofState
    elaborations: int = 0  # times the statement was elaborated (more than once: replays)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def node(self, state: int) -> Node:
        if not 0 <= state < len(self.nodes):
            raise SessionNotFound(
                f"session {self.id} has no state {state} (its states are 0..{len(self.nodes) - 1})"
            )
        return self.nodes[state]

    def path(self, state: int) -> list[int]:
        """The states from 0 to `state`, in order."""
        chain = [state]
        while (parent := self.nodes[chain[-1]].state.parent) is not None:
            chain.append(parent)
        return chain[::-1]

    def tactics(self, state: int) -> list[str]:
        return [t for s in self.path(state) if (t := self.nodes[s].tactic) is not None]

    def proof(self, state: int) -> str:
        """The `by` block of the tactic path to `state` (`by` alone at the root)."""
        lines = ["by"] + [indent_tactic(t, self.indent) for t in self.tactics(state)]
        return "\n".join(lines)

    def add_state(self, parent: ProofState, tactic: str, reply: ReplReply) -> ProofState:
        """A new state from a successful tactic reply (its REPL id is the caller's to record)."""
        goals = list(reply.goals)
        status: StateStatus = "open" if goals else "no_goals"
        if reply.sorries or "sorry" in (reply.proof_status or ""):
            status = "sorry"
        state = ProofState(
            state=len(self.nodes),
            parent=parent.state,
            tactic=tactic,
            depth=parent.depth + 1,
            goals=goals,
            status=status,
            messages=messages_from_repl(reply.messages),
        )
        self.nodes.append(Node(state, tactic))
        return state


async def materialize(
    session: Session, pool: SessionWorkers, state: int, *, timeout: float
) -> tuple[SessionWorker, int, bool]:
    """The session's worker, the REPL id of `state` on it, and whether the statement had to be
    elaborated again (a replay). Raises `ReplayFailed`, `SubmissionError` (the statement),
    and the driver's `ReplCrashed`/`ReplProtocolError` when the worker dies on the way."""
    if session.worker is None or not session.worker.usable:
        if session.worker is not None:
            pool.detach(session.worker)
            session.worker = None
        session.repl_ids.clear()
        session.worker = await pool.attach(
            session.environment, session.header, tenant=session.owner
        )
    worker = session.worker
    path = session.path(state)
    replayed = False
    if not any(s in session.repl_ids for s in path):
        goal = await _elaborate(session, pool, worker, timeout)
        session.elaborations += 1
        if session.elaborations == 1:
            session.nodes[0].state.goals = [goal]
        else:
            replayed = True
    for previous, current in itertools.pairwise(path):
        if current in session.repl_ids:
            continue
        tactic = session.nodes[current].tactic or ""
        try:
            reply = await worker.tactic(tactic, session.repl_ids[previous], timeout=timeout)
        except (ReplCommandError, ReplTimeout, ReplOutOfMemory) as exc:
            raise ReplayFailed(
                f"replaying state {current}'s tactic failed: {lean_error(str(exc))}"
            ) from exc
        finally:
            pool.after_command(worker)
        if (failure := tactic_failure(reply)) is not None:
            raise ReplayFailed(f"replaying state {current}'s tactic failed: {failure}")
        assert reply.proof_state is not None  # tactic_failure refuses a reply without one
        session.repl_ids[current] = reply.proof_state
    return worker, session.repl_ids[state], replayed


async def _elaborate(
    session: Session, pool: SessionWorkers, worker: SessionWorker, timeout: float
) -> str:
    """Run the statement on `worker`; record the target's `sorry` as state 0; its goal."""
    try:
        reply = await worker.command(session.body, timeout=timeout)
    except ReplTimeout as exc:
        raise SubmissionError(
            f"the statement took over {timeout:g} s to elaborate", field="statement"
        ) from exc
    except ReplOutOfMemory as exc:
        raise SubmissionError(
            "elaborating the statement went over the worker's memory cap", field="statement"
        ) from exc
    except ReplCommandError as exc:
        raise SubmissionError(f"Lean refused the statement: {exc}", field="statement") from exc
    finally:
        pool.after_command(worker)
    reply = map_body_positions(reply, session.header_lines)
    if reply.has_errors:
        first = reply.errors[0]
        where = f" (line {first.pos.line})" if first.pos and first.pos.line > 0 else ""
        raise SubmissionError(
            f"the statement does not elaborate{where}: {first.data[:500]}", field="statement"
        )
    start, end = session.target_span
    for sorry in reply.sorries:
        if sorry.pos is None or sorry.proof_state is None:
            continue
        if start <= (sorry.pos.line, sorry.pos.column) < end:
            session.repl_ids[0] = sorry.proof_state
            return sorry.goal
    raise SubmissionError(
        f"Lean reported no open goal at the `sorry` of {session.target}: make its proof "
        "exactly `sorry` or `by sorry`",
        field="statement",
    )


def lean_error(message: str) -> str:
    """The REPL's `{"message": "Lean error:\\n..."}` without its prefix."""
    return message.removeprefix("Lean error:").strip() or message


def tactic_failure(reply: ReplReply) -> str | None:
    """Why a tactic reply is a failure (an error message, a kernel error), or None if it is not."""
    if reply.has_errors:
        return reply.errors[0].data.strip() or "Lean reported an error"
    status = reply.proof_status or ""
    if status.startswith("Error"):
        return status.removeprefix("Error:").strip() or status
    if reply.proof_state is None:  # the driver refuses such a reply: never reached
        return "the REPL's reply has no proof state"
    return None
