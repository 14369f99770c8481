"""Wire models of a proof's tactic steps (`POST /v1/check/steps`): the verdict, and each step Lean's
REPL listed with `allTactics`, run again in its proof state for the goals after it and its time.

What `proofgate extract` turns into step records (`proofgate.extract.records`), whether the steps
were computed in its own process or on a server: both call `CheckerService.check_with_tactics`.
Plain pydantic (no FastAPI import), so the client shares them with the server.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from proofgate.models.check import Position, Verdict

__all__ = ["CheckStepsResponse", "TacticStep", "TacticSteps"]


class TacticStep(BaseModel):
    """One entry of the REPL's `tactics`, with what running it again in its proof state said."""

    tactic: str = Field(description="The tactic as Lean printed it.")
    pos: Position = Field(description="Where it starts, in the lines of `TacticSteps.code`.")
    end_pos: Position = Field(description="Where it ends, in the lines of `TacticSteps.code`.")
    goals_before: str = Field(description="The goals before it, as Lean printed them.")
    used_constants: list[str] | None = Field(
        description="The constants it used (the REPL's `usedConstants`); null where the REPL "
        "version does not report them."
    )
    goals_after: list[str] | None = Field(
        None,
        description="Each goal open after it, as Lean printed it when the tactic ran again in the "
        "step's proof state ([]: none left); null when it could not run again (see note).",
    )
    time_ms: float | None = Field(
        None,
        description="Wall-clock milliseconds of running it again (one REPL round trip); null when "
        "it did not run again.",
    )
    note: str | None = Field(None, description="Why goals_after or time_ms is missing.")


class TacticSteps(BaseModel):
    """A proof's steps, in the REPL's order, or why there are none."""

    code: str | None = Field(
        description="The whole Lean file the REPL ran (the statement with the proof in place, "
        "after the policy pass); the steps' positions are in its lines. Null when it did not run."
    )
    steps: list[TacticStep] = Field(default_factory=list)
    note: str | None = Field(
        None, description="Why there is no step (a term-mode proof, a Lean error, ...)."
    )


class CheckStepsResponse(BaseModel):
    """`POST /v1/check/steps`: the submission's verdict (as `/v1/check` gives it) and its steps."""

    verdict: Verdict
    steps: TacticSteps | None = Field(
        description="The steps; null when they were not computed: the verdict is not `proved` "
        "and `include_unverified` was not asked, or Lean did not run the submission to an answer "
        "(`rejected`, `timeout`, `out_of_memory`, `internal`)."
    )
