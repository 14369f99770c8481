"""`Submission` in, `Verdict` out: the one contract shared by HTTP, CLI, CI mode and the client.

The OpenAPI schema generated from these models is the API's contract; change them with care.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MAX_SOURCE_CHARS",
    "UNFINISHED",
    "Category",
    "DeclarationName",
    "EnvironmentName",
    "Goal",
    "LeanSource",
    "Message",
    "Pins",
    "PolicyProfile",
    "Position",
    "ProbeKind",
    "ProbeOutcome",
    "ProbeResult",
    "RequestPolicy",
    "Severity",
    "SorryInfo",
    "Submission",
    "Timings",
    "TriageRequest",
    "TriageResult",
    "TriageTimings",
    "Verdict",
    "VerdictStatus",
    "Violation",
    "canonical_sha256",
]

#: Upper bound of one Lean source field, before the HTTP body limit applies.
MAX_SOURCE_CHARS = 500_000
#: One Lean text a request carries (a file, a statement, a proof, a completion), at most
#: MAX_SOURCE_CHARS characters.
LeanSource = Annotated[str, Field(max_length=MAX_SOURCE_CHARS)]

#: The name of a declaration a request targets: a Lean name, no spaces or brackets.
DeclarationName = Annotated[str, Field(max_length=512, pattern=r"^[^\s()\[\]{}:,;`]+$")]
#: The name of one of the server's pinned environments (`GET /v1/environments`).
EnvironmentName = Annotated[
    str, Field(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="Pinned environment.")
]
#: The policy a request is checked under (`proofgate.verify.policy`).
PolicyProfile = Literal["strict", "permissive"]
#: A request's policy: None is the server's (`PROOFGATE_POLICY`), also the loosest it may ask for.
RequestPolicy = Annotated[
    PolicyProfile | None,
    Field(
        description="The policy profile; default the server's (`PROOFGATE_POLICY`), which is also "
        "the loosest a request may ask for: a request may tighten it, never loosen it."
    ),
]


def canonical_sha256(payload: object) -> str:
    """The SHA-256 of `payload` as canonical JSON (sorted keys, UTF-8; a value JSON has no form
    for is written as its str): the content hashes and cache keys of submissions and triages."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


#: The outcomes of a run that did not finish, for a verdict and a triage's elaboration alike.
UNFINISHED = frozenset({"timeout", "out_of_memory", "internal"})


class VerdictStatus(str, Enum):
    """What proofgate concluded. See DESIGN.md, "Verdicts", for the precedence."""

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

    @property
    def is_success(self) -> bool:
        return self in (VerdictStatus.proved, VerdictStatus.compiled)

    @property
    def is_unfinished(self) -> bool:
        """The run did not finish (`timeout`, `out_of_memory`, `internal`): the service's limit or
        fault, not the submission's; the fronts answer it as infrastructure."""
        return self.value in UNFINISHED

    @property
    def is_deterministic(self) -> bool:
        """A function of submission, pins, policy and checker: safe to cache."""
        return not self.is_unfinished


class Severity(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Category(str, Enum):
    """Stable error categories a model (or a person) can act on."""

    syntax = "syntax"
    unknown_identifier = "unknown_identifier"
    unknown_constant = "unknown_constant"
    type_mismatch = "type_mismatch"
    unsolved_goals = "unsolved_goals"
    tactic_failed = "tactic_failed"
    timeout = "timeout"
    heartbeats = "heartbeats"
    max_recursion = "max_recursion"
    policy = "policy"
    statement_mismatch = "statement_mismatch"
    axiom = "axiom"
    sorry = "sorry"
    linter = "linter"
    info = "info"
    other = "other"
    internal = "internal"
    kernel = "kernel"  # the kernel refused a declaration the elaborator accepted
    termination = "termination"  # Lean could not show a recursive definition terminates
    memory = "memory"  # the check went over its memory cap
    killed_worker = "killed_worker"  # the submission's worker died by a signal, twice alike
    target_missing = "target_missing"  # the `target` a free compile names is not in its code


class Position(BaseModel):
    """A place in the submitter's own text: lines 1-based, columns 0-based, in codepoints."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(ge=1)
    column: int = Field(ge=0)


class Message(BaseModel):
    """One Lean (or proofgate) message, placed in the submitter's own text."""

    severity: Severity
    category: Category
    text: str
    pos: Position | None = None
    end_pos: Position | None = None
    goals: list[str] = Field(default_factory=list, description="Goals at the error, if known.")
    source: Literal["code", "statement", "proof"] | None = Field(
        None, description="Which submitted field `pos` is in (None: no position)."
    )


class SorryInfo(BaseModel):
    """A `sorry` the REPL reported, with the goal it leaves open."""

    pos: Position | None = None
    end_pos: Position | None = None
    goal: str
    source: Literal["code", "statement", "proof"] | None = None


class Goal(BaseModel):
    """A proof state's goal, rendered as Lean prints it."""

    text: str


class Violation(BaseModel):
    """A policy refusal: which rule, where, and why."""

    rule: str
    line: int = Field(ge=1)
    column: int = Field(ge=0)
    message: str


class Pins(BaseModel):
    """What the verdict was computed with."""

    lean: str
    mathlib: str
    repl: str
    proofgate: str
    checker: str
    environment: str = "default"
    lean_options: dict[str, bool | int | str] = Field(
        default_factory=dict,
        description="The Lean options every Lean process of the check ran under (the "
        "environment's option set); empty: Lean's own defaults.",
    )


class Timings(BaseModel):
    """Milliseconds spent in each stage."""

    queue_ms: float = 0.0
    policy_ms: float = 0.0
    repl_ms: float = 0.0
    audit_ms: float = 0.0
    total_ms: float = 0.0


class Submission(BaseModel):
    """A free compile (`code` alone) or a locked check (`statement` plus `code` or `proof`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    code: LeanSource | None = Field(
        None, description="The whole Lean file, header included. Alone: a free compile."
    )
    statement: LeanSource | None = Field(
        None,
        description="The locked statement: a whole snippet ending in a theorem proved by `sorry`.",
    )
    proof: LeanSource | None = Field(
        None,
        description="A tactic block (`by ...`) or term that replaces the statement's `sorry`.",
    )
    target: DeclarationName | None = Field(
        None, description="The target theorem's name (default: the statement's last theorem)."
    )
    answer_holes: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Declarations of the statement whose value the submission may fill in.",
    )
    environment: EnvironmentName = "default"
    timeout: float | None = Field(None, gt=0, le=3600, description="Seconds (capped by server).")
    policy: RequestPolicy = None
    allowed_axioms: list[str] = Field(
        default_factory=list, max_length=64, description="Axioms allowed beyond the default three."
    )
    input: Literal["lean", "completion"] | None = Field(
        None,
        description="`lean` (the default) or `completion`: `proof` or `code` is a model's raw "
        "output, read as `/v1/rewards` "
        "reads one (reasoning stripped, its last fenced Lean block taken; with a statement, a "
        "proof body or a restated theorem). Positions in the verdict refer to that Lean block.",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Submission:
        if self.statement is None:
            if self.code is None:
                raise ValueError("give `code` (a free compile) or `statement` with `code`/`proof`")
            if self.proof is not None:
                raise ValueError("`proof` needs a `statement` to complete")
            if self.answer_holes:
                raise ValueError("`answer_holes` needs a `statement`")
        elif (self.code is None) == (self.proof is None):
            raise ValueError("with a `statement`, give exactly one of `code` or `proof`")
        for name in (*self.answer_holes, *self.allowed_axioms):
            if not name or any(ch.isspace() for ch in name):
                raise ValueError(f"not a Lean name: {name!r}")
        return self

    @property
    def is_locked(self) -> bool:
        return self.statement is not None

    def content_hash(self) -> str:
        """Hash of everything in the submission that can change its verdict (`input` only when it
        is `completion`, so a Lean submission hashes as it did before the field existed)."""
        exclude = {"timeout"} if self.input == "completion" else {"timeout", "input"}
        return canonical_sha256(self.model_dump(mode="json", exclude=exclude))


class Verdict(BaseModel):
    """proofgate's answer for one submission."""

    status: VerdictStatus
    kind: Literal["check", "compile"]
    target: str | None = None
    reason: str = Field("", description="One line saying why, for people and logs.")
    messages: list[Message] = Field(default_factory=list)
    sorries: list[SorryInfo] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    axioms: list[str] = Field(default_factory=list, description="Axioms the target reaches.")
    answers: dict[str, str] = Field(
        default_factory=dict, description="Submitted values of the statement's answer holes."
    )
    feedback: str = Field("", description="The code annotated with its errors, for a prompt.")
    pins: Pins | None = None
    timings: Timings = Field(default_factory=Timings)
    content_hash: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status.is_success


# --- triage (proofgate.triage): is a statement misformalized? ---------------------------------


class ProbeKind(str, Enum):
    """What a triage probe asks of a statement."""

    trivially_provable = "trivially_provable"  # a cheap closer proves it as stated
    disproved = "disproved"  # a cheap closer proves its negation (audited before it counts)
    vacuous = "vacuous"  # its hypotheses alone prove `False`


class ProbeOutcome(str, Enum):
    closed = "closed"  # no error, and no `sorry` in the probe
    failed = "failed"  # an error (the closer did not close it), or the probe could not run
    timeout = "timeout"  # ran past its own time limit or the total budget
    skipped = "skipped"  # not run: the budget ran out, an earlier closer already closed it, ...


class ProbeResult(BaseModel):
    """One probe: a closer proofgate tried on the statement, its negation or its hypotheses."""

    kind: ProbeKind
    closer: str = Field(description="The configured closer this probe tried.")
    tactic: str = Field(description="The tactic script proofgate ran, e.g. `push_neg; linarith`.")
    outcome: ProbeOutcome
    time_ms: float = 0.0
    proof: str | None = Field(
        None, description="When closed: the Lean file proofgate checked (statement and probe)."
    )
    detail: str = Field("", description="Why it failed or was skipped; the audit's answer.")
    audited: bool | None = Field(
        None, description="`disproved` probes that closed: did the trusted audit accept the proof?"
    )


class TriageRequest(BaseModel):
    """A statement to triage: a whole snippet with its header, ending in a theorem with `sorry`."""

    model_config = ConfigDict(extra="forbid")

    statement: LeanSource = Field(min_length=1)
    target: DeclarationName | None = Field(
        None, description="The theorem to triage (default: the statement's last theorem)."
    )
    environment: EnvironmentName = "default"
    policy: RequestPolicy = None
    closers: list[str] | None = Field(
        None,
        max_length=64,
        description="A selection (in order) of the server's configured closers; default: all.",
    )
    budget: float | None = Field(
        None, gt=0, le=3600, description="Seconds for all probes together (capped by server)."
    )

    def content_hash(self) -> str:
        """Hash of everything in the request that can change its triage."""
        return canonical_sha256(self.model_dump(mode="json"))


class TriageTimings(BaseModel):
    """Milliseconds spent in each stage of a triage."""

    policy_ms: float = 0.0
    elaboration_ms: float = 0.0
    probes_ms: float = 0.0
    audit_ms: float = 0.0
    total_ms: float = 0.0


class TriageResult(BaseModel):
    """proofgate's triage of one statement: does it elaborate, and is it trivial, false or vacuous?"""

    target: str | None = None
    elaboration: Literal["ok", "failed", "rejected", "timeout", "out_of_memory", "internal"] = (
        Field(
            description="`ok`: elaborates; `failed`: Lean errors; `rejected`: policy; else the service."
        )
    )
    reason: str = Field("", description="One line saying what the triage found.")
    trivially_provable: bool = False
    disproved: bool = Field(False, description="Its negation was proved and the proof audited.")
    vacuous: bool = False
    closed_by: dict[ProbeKind, str] = Field(
        default_factory=dict, description="For each flag that holds: the first tactic that closed."
    )
    negation_proof: str | None = Field(
        None, description="When disproved: the Lean file whose last theorem proves the negation."
    )
    answer_holes: list[str] = Field(
        default_factory=list, description="`:= sorry` declarations the target's statement mentions."
    )
    sorried_definitions: list[str] = Field(
        default_factory=list, description="Declarations with a `sorry` the target depends on."
    )
    probes: list[ProbeResult] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list, description="Elaboration messages.")
    sorries: list[SorryInfo] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    feedback: str = Field(
        "", description="The triage for a prompt: flags, probes, annotated errors."
    )
    closers: list[str] = Field(default_factory=list, description="The closers tried, in order.")
    budget: float = Field(0.0, description="Seconds all probes could take together.")
    pins: Pins | None = None
    timings: TriageTimings = Field(default_factory=TriageTimings)
    content_hash: str = ""
    cached: bool = False

    @property
    def elaboration_unfinished(self) -> bool:
        """The elaboration did not finish (`timeout`, `out_of_memory`, `internal`), as
        `VerdictStatus.is_unfinished` says of a verdict."""
        return self.elaboration in UNFINISHED

    @property
    def flags(self) -> list[ProbeKind]:
        """Every flag that holds."""
        held = {
            ProbeKind.trivially_provable: self.trivially_provable,
            ProbeKind.disproved: self.disproved,
            ProbeKind.vacuous: self.vacuous,
        }
        return [kind for kind, holds in held.items() if holds]
