"""Wire models of the HTTP API besides `Submission` and `Verdict`: environments, readiness, errors.

Plain pydantic (no FastAPI import), so the Python client can share them with the server.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EnvironmentInfo",
    "EnvironmentReadiness",
    "ErrorBody",
    "ReadinessReport",
    "ValidationIssue",
]


class EnvironmentInfo(BaseModel):
    """One pinned Lean environment a submission may name."""

    model_config = ConfigDict(extra="allow")

    name: str
    toolchain: str = Field(description="`leanprover/lean4:v4.32.0`")
    lean: str = Field(description="Lean version, e.g. `v4.32.0`.")
    mathlib: str | None = Field(None, description="Mathlib commit, if the project has Mathlib.")
    repl: str | None = Field(None, description="REPL commit.")
    packages: dict[str, str] = Field(default_factory=dict, description="Lake package -> commit.")
    ready: bool | None = Field(
        None, description="A request for it is served now (None: the server cannot tell)."
    )
    lean_found: str | None = Field(
        None, description="The version the toolchain found for it prints (None: none found)."
    )
    problems: list[str] = Field(
        default_factory=list, description="Why it is not ready, each with its fix."
    )


class EnvironmentReadiness(BaseModel):
    """One environment in `/readyz`: whether a request for it is served now, and if not why."""

    ready: bool
    lean: str = Field(description="Pinned Lean version, e.g. `v4.32.0`.")
    lean_found: str | None = Field(None, description="What the toolchain found prints.")
    mathlib: str | None = Field(None, description="Mathlib commit its manifest pins.")
    problems: list[str] = Field(default_factory=list)


class ReadinessReport(BaseModel):
    """`/readyz`: whether the service can verify now; each reason says how to fix it."""

    model_config = ConfigDict(extra="allow")

    ready: bool
    reasons: list[str] = Field(default_factory=list)
    sandbox: str = "none"
    pool: dict[str, Any] = Field(default_factory=dict)
    environments: dict[str, EnvironmentReadiness] = Field(
        default_factory=dict,
        description="Each environment's own readiness; `ready` above follows `default`'s.",
    )


class ValidationIssue(BaseModel):
    """One reason a request was refused with 422; `loc` names the field (`["body", "code"]`)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error the API answers with (4xx/5xx other than FastAPI's own 404/405)."""

    error: str = Field(
        description="Kind: validation, submission, body_too_large, not_ready, lean_unavailable, "
        "sandbox_unavailable, busy, store_unavailable, misconfigured, internal."
    )
    message: str = Field(description="What went wrong and what to do next.")
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")
    reason: str | None = Field(None, description="Why the service cannot verify (503).")
    retry_after: float | None = Field(
        None,
        description="The service's own estimate of when to retry, in seconds (503). Absent when "
        "it cannot say (e.g. no toolchain): an operator must act before a retry can help.",
    )
    detail: list[ValidationIssue] | None = Field(None, description="Field errors (422).")
