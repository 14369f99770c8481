"""Wire models of proof sessions: open one, run a tactic on a state, read the proof, finish.

Plain pydantic (no FastAPI import), so the Python client, the MCP server and the Dojo adapter share
them with the server. State ids are the session's own (0 is the statement's goal, then 1, 2, ... in
the order states were made); the REPL's proof-state ids never leave the server.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proofgate.models.check import (
    DeclarationName,
    EnvironmentName,
    LeanSource,
    Message,
    RequestPolicy,
    Violation,
)

__all__ = [
    "MAX_TACTIC_CHARS",
    "FinishRequest",
    "OpenSessionRequest",
    "ProofSnippet",
    "ProofState",
    "SessionInfo",
    "TacticOutcome",
    "TacticRequest",
]

#: Longest tactic text accepted in one step.
MAX_TACTIC_CHARS = 20_000

StateStatus = Literal["open", "no_goals", "sorry"]
Outcome = Literal["ok", "error", "rejected", "timeout", "out_of_memory", "internal"]


class OpenSessionRequest(BaseModel):
    """`POST /v1/sessions`: the locked statement whose target the session proves."""

    model_config = ConfigDict(extra="forbid")

    statement: LeanSource = Field(
        description="A whole snippet ending in the theorem to prove, proved by `sorry`."
    )
    environment: EnvironmentName = "default"
    target: DeclarationName | None = Field(
        None, description="The theorem to prove (default: the statement's last theorem)."
    )
    policy: RequestPolicy = None
    allowed_axioms: list[str] = Field(
        default_factory=list, max_length=64, description="Axioms allowed beyond the default three."
    )

    @field_validator("allowed_axioms")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or any(ch.isspace() for ch in name):
                raise ValueError(f"not a Lean name: {name!r}")
        return value


class ProofState(BaseModel):
    """One node of the session's proof tree."""

    state: int = Field(ge=0, description="The session's id of this state (0: the statement).")
    parent: int | None = Field(None, description="The state the tactic ran on (None for 0).")
    tactic: str | None = Field(None, description="The tactic that made this state from `parent`.")
    depth: int = Field(0, ge=0, description="Tactics from state 0 to here.")
    goals: list[str] = Field(default_factory=list, description="Open goals, as Lean prints them.")
    status: StateStatus = Field(
        "open",
        description="`open`: goals remain; `no_goals`: Lean's tactic mode sees none (only "
        "`finish` can say the proof is correct); `sorry`: a `sorry` closed a goal.",
    )
    messages: list[Message] = Field(
        default_factory=list, description="Lean's infos and warnings for the tactic."
    )


class SessionInfo(BaseModel):
    """An open session and its root state (the statement's goal)."""

    session_id: str
    environment: str
    target: str = Field(description="Full name of the theorem being proved.")
    root: ProofState
    ttl_seconds: float = Field(description="Idle seconds after which the session expires.")


class TacticRequest(BaseModel):
    """`POST /v1/sessions/{id}/tactic`: one tactic on one of the session's states."""

    model_config = ConfigDict(extra="forbid")

    state: int = Field(ge=0, description="The state to run the tactic on (any earlier one).")
    tactic: str = Field(min_length=1, max_length=MAX_TACTIC_CHARS)


class TacticOutcome(BaseModel):
    """What one tactic came to: a new state (`ok`), or why not."""

    session_id: str
    from_state: int = Field(description="The state the tactic ran on.")
    outcome: Outcome = Field(
        description="`ok` (see `state`), `error` (Lean refused it), `rejected` (policy or shape; "
        "Lean never saw it), `timeout`, `out_of_memory`, `internal` (proofgate's fault)."
    )
    state: ProofState | None = Field(None, description="The new state when `outcome` is `ok`.")
    reason: str = Field("", description="One line saying why, when not `ok`.")
    messages: list[Message] = Field(default_factory=list, description="Lean's errors.")
    violations: list[Violation] = Field(
        default_factory=list, description="Policy refusals, placed in the tactic's own text."
    )
    feedback: str = Field("", description="The step rendered for a prompt: tactic, errors, goals.")

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class ProofSnippet(BaseModel):
    """The proof so far at one state: the tactic path from state 0, as Lean source."""

    session_id: str
    state: int
    tactics: list[str] = Field(description="The tactics from state 0 to this state, in order.")
    proof: str = Field(description="The tactic block (`by ...`) that replaces the `sorry`.")
    code: str = Field(description="The statement with the proof in place of its `sorry`.")


class FinishRequest(BaseModel):
    """`POST /v1/sessions/{id}/finish`: run the full check on the proof at `state`."""

    model_config = ConfigDict(extra="forbid")

    state: int = Field(ge=0)
