"""Wire models of reward mode (`POST /v1/rewards`): a locked statement and a group of raw model
completions in, one reward record per completion out.

Plain pydantic (no FastAPI import), so a client or a trainer adapter shares them with the server.
A record's `status` is a verdict status or `no_proof` (the completion holds no Lean to check):
`no_proof` exists only here, so `VerdictStatus`, and every older client decoding verdicts, is
unchanged.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proofgate.models.check import (
    UNFINISHED,
    Category,
    DeclarationName,
    EnvironmentName,
    LeanSource,
    Pins,
    RequestPolicy,
    VerdictStatus,
)

__all__ = [
    "CHEAT_CLASSES",
    "POLICY_CHEAT_PREFIX",
    "RewardOptions",
    "RewardRecord",
    "RewardRequest",
    "RewardResponse",
    "RewardStatus",
]


class RewardStatus(str, Enum):
    """A verdict status (`VerdictStatus`, same values), or `no_proof`: no Lean in the completion."""

    proved = "proved"
    compiled = "compiled"
    incomplete = "incomplete"
    failed = "failed"
    statement_mismatch = "statement_mismatch"
    axiom_violation = "axiom_violation"
    rejected = "rejected"
    timeout = "timeout"
    out_of_memory = "out_of_memory"
    internal = "internal"
    no_proof = "no_proof"

    @classmethod
    def of(cls, status: VerdictStatus) -> RewardStatus:
        return cls(status.value)

    @property
    def is_unfinished(self) -> bool:
        """`timeout`, `out_of_memory`, `internal`: no reward (null), retry the completion."""
        return self.value in UNFINISHED


#: The cheat classes a record names, besides `policy:<rule>` (a policy refusal, by its rule).
CHEAT_CLASSES = ("hidden_sorry", "axiom", "native_code", "statement_mismatch")
#: The prefix of a policy refusal's cheat class: `policy:exit`, `policy:debug-option`, ...
POLICY_CHEAT_PREFIX = "policy:"


#: A reward or a penalty: a finite number.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class RewardOptions(BaseModel):
    """How statuses become rewards. A field left out takes the server's setting
    (`PROOFGATE_REWARD_*`). `timeout`, `out_of_memory` and `internal` always give `reward: null`
    with `retry: true`: they are the service's outcome, not the completion's."""

    model_config = ConfigDict(extra="forbid")

    proved: Finite | None = Field(None, description="The reward of `proved` (default 1.0).")
    other: Finite | None = Field(
        None, description="The reward of every other decided status (default 0.0)."
    )
    statuses: dict[RewardStatus, Finite] = Field(
        default_factory=dict,
        description="Per-status rewards, over `proved`/`other`: any decided status or `no_proof`.",
    )
    cheat_penalty: Finite | None = Field(
        None, description="Subtracted when the record names a `cheat` (default 0.0)."
    )
    no_proof_penalty: Finite | None = Field(
        None, description="Subtracted for `no_proof` (default 0.0)."
    )

    @field_validator("statuses")
    @classmethod
    def _decided_only(cls, value: dict[RewardStatus, float]) -> dict[RewardStatus, float]:
        for status in value:
            if status.is_unfinished:
                raise ValueError(
                    f"`{status.value}` has no reward (it is null, with retry): leave it out"
                )
        return value


class RewardRequest(BaseModel):
    """`POST /v1/rewards`: one locked statement and the raw completions sampled for it."""

    model_config = ConfigDict(extra="forbid")

    statement: LeanSource = Field(
        min_length=1,
        description="The locked statement: a whole snippet ending in a theorem proved by `sorry`.",
    )
    completions: list[LeanSource] = Field(
        min_length=1,
        description="Raw model outputs (reasoning, prose and a fenced Lean block), each checked "
        "against the statement; at most PROOFGATE_MAX_BATCH_ITEMS (413 beyond).",
    )
    target: DeclarationName | None = Field(
        None, description="The target theorem's name (default: the statement's last theorem)."
    )
    environment: EnvironmentName = "default"
    timeout: float | None = Field(
        None, gt=0, le=3600, description="Seconds a completion's check may take (capped by server)."
    )
    policy: RequestPolicy = None
    reward: RewardOptions = Field(default_factory=RewardOptions)
    unfenced: bool = Field(
        False,
        description="Read a completion without a fenced block as Lean source, whole "
        "(default: such a completion is `no_proof`).",
    )


class RewardRecord(BaseModel):
    """The reward of one completion, and why."""

    index: int = Field(ge=0, description="The completion's place in the request.")
    reward: float | None = Field(description="null: unfinished (see `retry`).")
    retry: bool = Field(
        False, description="The check did not finish (timeout, memory, internal): send it again."
    )
    status: RewardStatus
    proved: bool
    cheat: str | None = Field(
        None,
        description="The completion tried to pass something off as a proof: `hidden_sorry`, "
        "`axiom`, `native_code`, `statement_mismatch`, or `policy:<rule>`; null otherwise (a "
        "visible `sorry` is `incomplete`, not a cheat).",
    )
    compiled: bool = Field(description="Lean elaborated it without an error.")
    error_category: Category | None = Field(None, description="The category of the first error.")
    errors: int = Field(0, ge=0, description="Error messages.")
    sorries: int = Field(0, ge=0, description="`sorry`s Lean reported.")
    read_as: Literal["proof", "theorem"] | None = Field(
        None,
        description="How the completion was read: `proof` (a proof body for the statement's "
        "`sorry`) or `theorem` (a restated theorem, checked against the statement); null for "
        "`no_proof`.",
    )
    reason: str = Field("", description="One line saying why.")
    time_ms: float = 0.0
    cached: bool = False
    pins: Pins | None = None


class RewardResponse(BaseModel):
    """The answer to a non-streaming `POST /v1/rewards`: every record, in order, and counts."""

    records: list[RewardRecord]
    counts: dict[str, int] = Field(default_factory=dict, description="Records by status.")
    cheats: dict[str, int] = Field(default_factory=dict, description="Records by cheat class.")
