"""The Kimina Lean Server's routes, answered by proofgate: `POST /api/check`, `GET /health`, and
the legacy `POST /verify` and `POST /one_pass_verify_batch`.

Users of project-numina/kimina-lean-server (its `kimina_client`, or plain JSON) can point at
proofgate unchanged. The shapes are Kimina's (server 2.0.0, `server/routers/`; client 0.2.1): see
`proofgate.api.kimina_models`. `/health` is open, as `/healthz` is; the other three need a key where
keys are configured (`proofgate.api.auth`). Kimina also answers its health at `GET /`; proofgate
answers it there too, `{"status": "ok"}`, to a client that does not ask for HTML (the console's
route, `proofgate.api.console`, serves the page to browsers).

Each snippet (each legacy `code`) is a free compile. Kimina clients call a snippet valid when no
message has severity `error` and `sorries` is empty, but the REPL lists only the `sorry`s it can see
in the text: so whenever proofgate's verdict is not `compiled` (a forbidden axiom, `sorryAx`, a
policy refusal, a kernel refusal), an error message naming the verdict and its reason is added, and
a cheat never looks valid. One exception keeps Kimina's own `sorry` status: a verdict `incomplete`
whose `sorry`s the REPL did list is already not valid, so proofgate's notes about it come as
warnings. A verdict `timeout`, `out_of_memory` or `internal` is answered in `error` as Kimina answers
a timeout ("... timed out ...") or a server failure. A service (or an environment) that cannot
verify now is answered the same way, in each result's `error` ("cannot verify now: ..."), as Kimina
reports a REPL it could not use, and nothing of it is cached; `/v1/*` answers 503 instead.

`infotree` (legacy: `infotree_type`) is passed to the REPL, and its tree comes back in `response`
as the REPL printed it, with positions in the snippet's own lines (as `messages`; Kimina 2.0.0
leaves the tree's lines counted from after the imports). Such a check is never answered from the
result cache (a cached verdict has no tree). `reuse` (legacy: `disable_cache`, its opposite) is
honoured by the pool's header environments: a snippet's imports are elaborated once per worker and
its body runs on that environment, never on another snippet's, which is what a reused Kimina REPL
gives; `false` gets the same answer. REPL `env` chaining is not offered (`env` is always 0).
The environment (`GET /v1/environments`) a request's snippets are checked in is named, as Kimina
has no field for it, by the query parameter `environment` or the header `X-Proofgate-Environment`
(both given, they must agree); the body stays Kimina's. Naming none is `default`. An unknown name is
a 422 naming the known ones, as `/v1` answers it; a named environment that is not ready (as
`/readyz` lists it) is a 503 naming it, for the whole request, while the others serve. A request
naming none keeps Kimina's per-result answer above.
Tested on the stand-in REPL and checker; untested against real Lean (the positions and texts of
Lean's own messages, and its info trees, pass through).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from proofgate.api.deps import Service, charge_submissions, get_tenant
from proofgate.api.environments import readiness_by_environment
from proofgate.api.errors import ERROR_RESPONSES, limit_items
from proofgate.api.kimina_models import (
    BackwardResponse,
    CheckRequest,
    CheckResponse,
    CommandResponse,
    Diagnostics,
    ExtendedCommandResponse,
    HealthStatus,
    Infotree,
    KiminaSeverity,
    Message,
    Pos,
    ReplResponse,
    Snippet,
    Sorry,
    VerifyRequestBody,
    VerifyResponse,
)
from proofgate.api.metrics import Metrics
from proofgate.config import Settings
from proofgate.exceptions import Busy, LeanUnavailable, NotReady, SubmissionError
from proofgate.models import Message as ProofgateMessage
from proofgate.models import Position, Severity, Submission, Verdict, VerdictStatus
from proofgate.service import CheckerService

__all__ = [
    "ENVIRONMENT_HEADER",
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

router = APIRouter(tags=["kimina"], responses=ERROR_RESPONSES)

#: The header naming the environment a Kimina request is checked in (or the query's `environment`).
ENVIRONMENT_HEADER = "X-Proofgate-Environment"
_BUSY_PATIENCE = 30.0  # seconds a snippet waits out a saturated pool before the request is 503


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
    snippet_id: str,
    verdict: Verdict,
    *,
    timeout: float,
    debug: bool = False,
    infotree: Any = None,
) -> ReplResponse:
    """A verdict in Kimina's shape: valid to a Kimina client exactly when it is `compiled`.
    `infotree`, the REPL's tree for this check (if it was asked for), is returned as it is."""
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
        response=CommandResponse(env=0, messages=messages, sorries=sorries, infotree=infotree),
        diagnostics=diagnostics,
    )


def _unready_error(exc: NotReady) -> str:
    """A result's `error` for a service or environment that cannot verify now (no "timed out"
    in it: Kimina's client counts it a server error, not the snippet's timeout)."""
    reason = exc.reason.removeprefix("cannot verify: ")
    return f"cannot verify now: {reason}"


async def _check_one(
    service: CheckerService,
    http: Request,
    snippet_id: str,
    code: str,
    *,
    environment: str,
    timeout: float,
    debug: bool,
    infotree: Infotree | None,
) -> ReplResponse:
    """One snippet's answer; `timeout` is the request's seconds as the service resolved them."""
    try:
        submission = Submission(code=code, timeout=timeout, environment=environment)
    except ValidationError as exc:
        problem = exc.errors()[0]
        return ReplResponse(id=snippet_id, error=f"invalid snippet: {problem['msg']}")
    tenant = await get_tenant(http)
    tree: Any = None
    metrics: Metrics = http.app.state.metrics
    began = time.monotonic()
    while True:
        try:
            if infotree is None:
                verdict = await metrics.timed(service.check(submission, tenant=tenant))
            else:
                verdict, tree = await metrics.timed_with(
                    service.check_with_infotree(submission, infotree=infotree.value, tenant=tenant)
                )
            break
        except Busy as exc:
            if time.monotonic() - began > _BUSY_PATIENCE:
                raise
            await exc.wait()
        except NotReady as exc:  # answered per result, and never cached
            return ReplResponse(id=snippet_id, error=_unready_error(exc))
        except SubmissionError as exc:
            return ReplResponse(id=snippet_id, error=f"invalid snippet: {exc}")
    return to_repl_response(snippet_id, verdict, timeout=timeout, debug=debug, infotree=tree)


async def _environment(
    request: Request,
    service: Service,
    query: str | None = Query(
        None,
        alias="environment",
        description="The environment to check in (`GET /v1/environments`); default: `default`.",
    ),
    header: str | None = Header(
        None,
        alias=ENVIRONMENT_HEADER,
        description="The environment to check in, as the query's `environment` names it.",
    ),
) -> str:
    """The environment the request names (query or header; `default` when neither): unknown is
    the request's 422 naming the known ones; named and not ready, a 503 naming it."""
    if query is not None and header is not None and query != header:
        raise SubmissionError(
            f"the query names environment {query!r} and the {ENVIRONMENT_HEADER} header "
            f"{header!r}: name one",
            field="environment",
        )
    named = query if query is not None else header
    if named is None:
        return "default"
    service.environment(named)  # SubmissionError naming the known ones
    unready = f"environment {named!r} is not ready: "
    state = service.readiness()
    if not state.ready:  # the service as a whole: its sandbox, or default's Lean
        raise NotReady(unready + "; ".join(state.reasons))
    if named == "default":  # all there is to default's readiness: the service's, just read
        return named
    readiness = (await readiness_by_environment(request, service)).get(named)
    if readiness is not None and not readiness.ready:  # its own toolchain, Mathlib, REPL, checker
        raise LeanUnavailable(unready + "; ".join(readiness.problems))
    return named


async def _answer(
    request: Request,
    service: CheckerService,
    items: list[tuple[str, str]],
    *,
    what: str,
    environment: str,
    timeout: int,
    debug: bool,
    infotree: Infotree | None,
) -> list[ReplResponse]:
    """A request's `(id, code)` items, within the item limit and charged to its key, each checked
    (at most the batch concurrency at a time), answered in order."""
    limit_items(request, len(items), what)
    charge_submissions(request, len(items))
    settings: Settings = request.app.state.settings
    gate = asyncio.Semaphore(settings.batch_items_at_once)
    # Resolved once, by the service (capped by PROOFGATE_REQUEST_TIMEOUT, at most 3600 s); Kimina
    # takes 0, which runs for a second, the shortest own timeout this route gives.
    seconds = service.timeout(float(max(timeout, 1)))

    async def gated(snippet_id: str, code: str) -> ReplResponse:
        async with gate:
            return await _check_one(
                service,
                request,
                snippet_id,
                code,
                environment=environment,
                timeout=seconds,
                debug=debug,
                infotree=infotree,
            )

    return list(await asyncio.gather(*(gated(item_id, code) for item_id, code in items)))


# --- the routes ------------------------------------------------------------------------------

#: A route's parameter for the environment its request names.
Environment = Annotated[str, Depends(_environment)]


async def _check(
    body: CheckRequest, request: Request, service: Service, environment: Environment
) -> JSONResponse:
    results = await _answer(
        request,
        service,
        [(snippet.id, snippet.code) for snippet in body.snippets],
        what="snippets",
        environment=environment,
        timeout=body.timeout,
        debug=body.debug,
        infotree=body.infotree,
    )
    answer = CheckResponse(results=results)
    return JSONResponse(answer.model_dump(mode="json", exclude_none=True))


def _backward(result: ReplResponse) -> BackwardResponse:
    """A result in the legacy shape: `custom_id`, and `error` or the response with its `time`."""
    response = None
    if result.response is not None:
        response = ExtendedCommandResponse(**dict(result.response), time=result.time)
    return BackwardResponse(custom_id=result.id, error=result.error, response=response)


async def _verify(
    body: VerifyRequestBody, request: Request, service: Service, environment: Environment
) -> JSONResponse:
    results = await _answer(
        request,
        service,
        [(str(code.custom_id), code.content) for code in body.codes],
        what="codes",
        environment=environment,
        timeout=body.timeout,
        debug=False,
        infotree=body.infotree_type,
    )
    answer = VerifyResponse(results=[_backward(result) for result in results])
    return JSONResponse(answer.model_dump(mode="json", exclude_none=True))


async def _health() -> HealthStatus:
    return HealthStatus(status="ok")


_ENVIRONMENT_NOTE = (
    " The environment is named by the query's `environment` or the `X-Proofgate-Environment` "
    "header (default: `default`): unknown is 422, named and not ready 503."
)
_CHECK_DESCRIPTION = (
    "Kimina's request and response shapes; each snippet is a free compile, and any verdict other "
    "than `compiled` shows as an error message (see the module docs)." + _ENVIRONMENT_NOTE
)
_VERIFY_DESCRIPTION = (
    "Kimina's legacy route (DeepSeek- and Goedel-style evaluation scripts call it): each code is "
    "checked as `/api/check` checks a snippet, and answered with its `custom_id`."
    + _ENVIRONMENT_NOTE
)

router.add_api_route(
    "/api/check",
    _check,
    methods=["POST"],
    response_model=CheckResponse,
    response_model_exclude_none=True,
    summary="Kimina Lean Server compatible check",
    description=_CHECK_DESCRIPTION,
)
router.add_api_route(
    "/api/check/", _check, methods=["POST"], response_model=CheckResponse, include_in_schema=False
)
for _path in ("/verify", "/one_pass_verify_batch"):
    router.add_api_route(
        _path,
        _verify,
        methods=["POST"],
        response_model=VerifyResponse,
        response_model_exclude_none=True,
        summary="Kimina Lean Server compatible batch verification (legacy)",
        description=_VERIFY_DESCRIPTION,
    )
router.add_api_route(
    "/health",
    _health,
    methods=["GET"],
    response_model=HealthStatus,
    summary="The process is up (Kimina's health route; open, as /healthz)",
)
router.add_api_route("/health/", _health, methods=["GET"], include_in_schema=False)
