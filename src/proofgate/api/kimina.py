"""`POST /api/check`: the Kimina Lean Server's request and response, answered by proofgate.

Users of project-numina/kimina-lean-server (its `kimina_client`, or plain JSON) can point at
proofgate unchanged. The models are named after Kimina's (`client/kimina_client/models.py`): a
`CheckRequest` of `Snippet`s (`id`, `code`) with `timeout`, `debug`, `reuse`, `infotree`; a
`CheckResponse` of `ReplResponse`s (`id`, `time`, `error` or `response`, `diagnostics`), whose
`response` is the REPL's `CommandResponse` (`env`, `messages`, `sorries`).

Each snippet is a free compile. Kimina clients call a snippet valid when no message has severity
`error` and `sorries` is empty, but the REPL lists only the `sorry`s it can see in the text: so
whenever proofgate's verdict is not `compiled` (a forbidden axiom, `sorryAx`, a policy refusal, a
kernel refusal), an error message naming the verdict and its reason is added, and a cheat never
looks valid. One exception keeps Kimina's own `sorry` status: a verdict `incomplete` whose `sorry`s
the REPL did list is already not valid, so proofgate's notes about it come as warnings. A verdict
`timeout`, `out_of_memory` or `internal` is answered in `error` as Kimina answers a timeout
("... timed out ...") or a server failure.

Not supported: `infotree` (accepted, no info tree is returned), `reuse` (proofgate keeps its own
warm environments), REPL `env` chaining (`env` is always 0). Tested on the stand-in REPL and
checker; untested against real Lean (the positions and texts of Lean's own messages pass through).
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proofgate.api.deps import charge_submissions, get_service, get_tenant
from proofgate.api.errors import ERROR_RESPONSES, limit_items
from proofgate.exceptions import Busy, SubmissionError
from proofgate.models import Message as ProofgateMessage
from proofgate.models import Position, Severity, Submission, Verdict, VerdictStatus
from proofgate.service import CheckerService

__all__ = [
    "CheckRequest",
    "CheckResponse",
    "CommandResponse",
    "Infotree",
    "Message",
    "Pos",
    "ReplResponse",
    "Snippet",
    "Sorry",
    "router",
    "to_repl_response",
]

router = APIRouter(prefix="/api", tags=["kimina"], responses=ERROR_RESPONSES)

_BUSY_PATIENCE = 30.0  # seconds a snippet waits out a saturated pool before the request is 503


class Infotree(str, Enum):
    full = "full"
    tactics = "tactics"
    original = "original"
    substantive = "substantive"


class Snippet(BaseModel):
    id: str = Field(..., description="Identifier to trace the snippet")
    code: str = Field(..., description="Lean 4 snippet or proof attempt")


class BaseRequest(BaseModel):
    timeout: int = Field(30, ge=0, description="Maximum time in seconds before aborting the check")
    debug: bool = Field(False, description="Include diagnostics in the response")
    reuse: bool = Field(True, description="Accepted for compatibility; proofgate always reuses")
    infotree: Infotree | None = Field(None, description="Accepted; proofgate returns no info tree")


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


def _pos(position: Position | None) -> Pos:
    # The REPL's convention, which proofgate's positions already follow: lines 1-based, columns
    # 0-based (codepoints). A note without a place (the audit's) goes to the file's start.
    if position is None:
        return Pos(line=1, column=0)
    return Pos(line=position.line, column=position.column)


_SEVERITY: dict[Severity, KiminaSeverity] = {
    Severity.error: "error",
    Severity.warning: "warning",
    Severity.info: "info",
}


def _message(message: ProofgateMessage, *, demote: bool) -> Message:
    severity = message.severity
    if demote and severity is Severity.error:
        severity = Severity.warning
    return Message(
        severity=_SEVERITY[severity],
        pos=_pos(message.pos),
        endPos=_pos(message.end_pos) if message.end_pos is not None else None,
        data=message.text,
    )


def to_repl_response(
    snippet_id: str, verdict: Verdict, *, timeout: float, debug: bool = False
) -> ReplResponse:
    """A verdict in Kimina's shape: valid to a Kimina client exactly when it is `compiled`."""
    seconds = round(verdict.timings.total_ms / 1000, 6)
    diagnostics = (
        Diagnostics(proofgate_status=verdict.status.value, proofgate_reason=verdict.reason)
        if debug
        else None
    )
    if verdict.status.is_unfinished:
        if verdict.status is VerdictStatus.timeout:
            error = f"Lean REPL command timed out in {timeout:g} seconds ({verdict.reason})"
        else:
            error = f"proofgate verdict {verdict.status.value}: {verdict.reason}"
        return ReplResponse(id=snippet_id, time=seconds, error=error, diagnostics=diagnostics)
    sorries = [
        Sorry(pos=_pos(s.pos), endPos=_pos(s.end_pos or s.pos), goal=s.goal)
        for s in verdict.sorries
    ]
    # `incomplete` with the sorries listed: already Kimina's `sorry` status; keep it that way.
    keeps_sorry_status = verdict.status is VerdictStatus.incomplete and bool(sorries)
    messages = [
        _message(m, demote=keeps_sorry_status and m.category.value == "sorry")
        for m in verdict.messages
    ]
    if verdict.status is not VerdictStatus.compiled:
        verdict_text = f"proofgate verdict: {verdict.status.value}: {verdict.reason}"
        where = next((m.pos for m in messages if m.severity == "error"), Pos(line=1, column=0))
        messages.append(
            Message(
                severity="warning" if keeps_sorry_status else "error",
                pos=where,
                data=verdict_text,
            )
        )
    return ReplResponse(
        id=snippet_id,
        time=seconds,
        response=CommandResponse(env=0, messages=messages, sorries=sorries),
        diagnostics=diagnostics,
    )


async def _check_snippet(
    service: CheckerService,
    snippet: Snippet,
    request: CheckRequest,
    gate: asyncio.Semaphore,
    http: Request,
) -> ReplResponse:
    timeout = float(min(max(request.timeout, 1), 3600))
    try:
        submission = Submission(code=snippet.code, timeout=timeout)
    except ValidationError as exc:
        problem = exc.errors()[0]
        return ReplResponse(id=snippet.id, error=f"invalid snippet: {problem['msg']}")
    began = time.monotonic()
    async with gate:
        while True:
            try:
                verdict = await service.check(submission, tenant=await get_tenant(http))
                break
            except Busy as exc:
                if time.monotonic() - began > _BUSY_PATIENCE:
                    raise
                await asyncio.sleep(min(max(exc.retry_after, 0.05), 5.0))
            except SubmissionError as exc:
                return ReplResponse(id=snippet.id, error=f"invalid snippet: {exc}")
    http.app.state.metrics.observe_verdict(
        verdict, time.monotonic() - began, cache_enabled=http.app.state.settings.cache_enabled
    )
    return to_repl_response(snippet.id, verdict, timeout=timeout, debug=request.debug)


async def _check(
    body: CheckRequest, request: Request, service: CheckerService = Depends(get_service)
) -> JSONResponse:
    settings = request.app.state.settings
    limit_items(request, len(body.snippets), "snippets")
    charge_submissions(request, len(body.snippets))
    gate = asyncio.Semaphore(settings.batch_concurrency or 2 * settings.workers)
    results = await asyncio.gather(
        *(_check_snippet(service, snippet, body, gate, request) for snippet in body.snippets)
    )
    answer = CheckResponse(results=list(results))
    return JSONResponse(answer.model_dump(mode="json", exclude_none=True))


router.add_api_route(
    "/check",
    _check,
    methods=["POST"],
    response_model=CheckResponse,
    response_model_exclude_none=True,
    summary="Kimina Lean Server compatible check",
    description="Kimina's request and response shapes; each snippet is a free compile, and any "
    "verdict other than `compiled` shows as an error message (see the module docs).",
)
router.add_api_route(
    "/check/", _check, methods=["POST"], response_model=CheckResponse, include_in_schema=False
)
