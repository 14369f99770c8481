"""The Kimina Lean Server's request and response models, as proofgate answers them.

Named and shaped after Kimina's own (`client/kimina_client/models.py` of
project-numina/kimina-lean-server, server 2.0.0 and client 0.2.1), which its routers use: its
`/api/check` takes a `CheckRequest` of `Snippet`s and answers a `CheckResponse` of `ReplResponse`s
whose `response` is the REPL's `CommandResponse`; its legacy `/verify` and `/one_pass_verify_batch`
take a `VerifyRequestBody` of `Code`s (`custom_id`, and the Lean text in `proof` or `code`) and
answer a `VerifyResponse` of `BackwardResponse`s, whose `response` carries the check's `time`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BackwardResponse",
    "CheckRequest",
    "CheckResponse",
    "Code",
    "CommandResponse",
    "Diagnostics",
    "ExtendedCommandResponse",
    "HealthStatus",
    "Infotree",
    "KiminaSeverity",
    "Message",
    "Pos",
    "ReplResponse",
    "Snippet",
    "Sorry",
    "VerifyRequestBody",
    "VerifyResponse",
]


class Infotree(str, Enum):
    """The info tree levels the REPL prints (`REPL/Main.lean`'s `infotree` option)."""

    full = "full"
    tactics = "tactics"
    original = "original"
    substantive = "substantive"


# --- /api/check ------------------------------------------------------------------------------


class Snippet(BaseModel):
    id: str = Field(..., description="Identifier to trace the snippet")
    code: str = Field(..., description="Lean 4 snippet or proof attempt")


class BaseRequest(BaseModel):
    timeout: int = Field(30, ge=0, description="Maximum time in seconds before aborting the check")
    debug: bool = Field(False, description="Include diagnostics in the response")
    reuse: bool = Field(
        True,
        description="Kimina: reuse a REPL that has the snippet's imports. proofgate always runs "
        "the snippet on its imports' warm environment, never on another snippet's; `false` gets "
        "the same answer",
    )
    infotree: Infotree | None = Field(
        None, description="Level of detail of the info tree the REPL returns in `response`"
    )


class CheckRequest(BaseRequest):
    snippets: list[Snippet] = Field(description="Snippets to check (batch or single element)")

    @model_validator(mode="after")
    def _check_snippets(self) -> CheckRequest:
        if not self.snippets:
            raise ValueError("`snippets` must be non empty")
        if len({snippet.id for snippet in self.snippets}) != len(self.snippets):
            raise ValueError("`snippets` must have unique ids")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "snippets": [{"id": "mathlib-import-def", "code": "import Mathlib\ndef f := 1"}],
                "timeout": 20,
                "debug": False,
                "reuse": True,
                "infotree": "original",
            }
        }
    )


class Pos(BaseModel):
    line: int
    column: int


KiminaSeverity = Literal["trace", "info", "warning", "error"]


class Message(BaseModel):
    severity: KiminaSeverity
    pos: Pos
    endPos: Pos | None = None  # Kimina's (the REPL's) field name
    data: str


class Sorry(BaseModel):
    pos: Pos
    endPos: Pos
    goal: str
    proofState: int | None = None


class CommandResponse(BaseModel):
    env: int | None = None
    messages: list[Message] | None = None
    sorries: list[Sorry] | None = None
    infotree: Any = Field(
        None, description="The REPL's info tree, when the request asked for one and Lean made one"
    )


class Diagnostics(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReplResponse(BaseModel):
    id: str = Field(..., description="Identifier to trace the snippet")
    time: float = 0.0
    error: str | None = None
    response: CommandResponse | None = None
    diagnostics: Diagnostics | None = None


class CheckResponse(BaseModel):
    results: list[ReplResponse]


# --- /health ---------------------------------------------------------------------------------


class HealthStatus(BaseModel):
    status: str = Field("ok", description="`ok` while the process serves requests")


# --- the legacy /verify and /one_pass_verify_batch --------------------------------------------


class Code(BaseModel):
    custom_id: str | int = Field(description="Identifier to trace the proof")
    proof: str | None = Field(None, description="The Lean 4 text (this or `code`)")
    code: str | None = Field(None, description="The Lean 4 text, when `proof` is not given")

    @model_validator(mode="after")
    def _has_text(self) -> Code:
        if self.proof is None and self.code is None:
            raise ValueError(f"code {self.custom_id!r} has no Lean text: give it `proof` or `code`")
        return self

    @property
    def content(self) -> str:
        """The Lean text: `proof`, else `code` (Kimina's `get_proof_content`)."""
        text = self.proof if self.proof is not None else self.code
        assert text is not None  # the validator saw one
        return text


class VerifyRequestBody(BaseModel):
    codes: list[Code]
    timeout: int = Field(300, description="Seconds before a check is aborted (at most 3600)")
    infotree_type: Infotree | None = Field(
        None, description="Level of detail of the info tree the REPL returns in `response`"
    )
    disable_cache: bool = Field(
        False,
        description="Kimina: do not reuse a REPL (the opposite of `reuse`); the same answer here",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "codes": [{"custom_id": "1234", "proof": "#check Nat"}],
                "infotree_type": "original",
            }
        }
    )


class ExtendedCommandResponse(CommandResponse):
    time: float | None = Field(None, description="Seconds the check took")


class BackwardResponse(BaseModel):
    custom_id: str
    error: str | None = None
    response: ExtendedCommandResponse | None = None


class VerifyResponse(BaseModel):
    results: list[BackwardResponse]
