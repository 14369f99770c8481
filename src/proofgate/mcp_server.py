"""`proofgate mcp`: proofgate's checks and proof sessions as Model Context Protocol tools.

Built on the official `mcp` SDK (the `mcp` extra, 2.x: `MCPServer`), over stdio or streamable HTTP,
against a local `CheckerService` or a proofgate server (`proofgate.backends`). Tools:

- `check_proof` (a locked statement and its proof), `check_statement` (a free compile),
  `lint` (the policy pass alone, no Lean), `list_environments`;
- `open_session`, `run_tactic`, `finish_session`, `close_session` (see `proofgate.sessions`).

Each result carries the same feedback as the HTTP API: the text content is rendered for a model
(status and reason, then the annotated feedback or the step), and the structured content is the
API's own JSON (`Verdict`, `SessionInfo`, `TacticOutcome`, ...). A failure that is not an outcome
of the input (the service cannot verify, the session is gone) is an error result saying what to do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from proofgate.__about__ import __version__
from proofgate.backends import Backend, open_backend
from proofgate.config import Settings, is_loopback_host
from proofgate.exceptions import (
    Busy,
    ConfigError,
    NotReady,
    ProofgateError,
    SessionError,
    SubmissionError,
)
from proofgate.models import Submission, Verdict
from proofgate.models.sessions import OpenSessionRequest, TacticOutcome
from proofgate.verify.lint_policy import lint_policy
from proofgate.verify.policy import check_source

__all__ = ["TOOL_NAMES", "ProofgateTools", "build_server", "render_verdict", "serve"]

TOOL_NAMES = (
    "check_proof",
    "check_statement",
    "lint",
    "list_environments",
    "open_session",
    "run_tactic",
    "finish_session",
    "close_session",
)

_INSTRUCTIONS = (
    "proofgate checks Lean 4 proofs against a pinned Mathlib and answers verdicts that cannot be "
    "gamed. `check_proof` checks a proof of a locked statement (a theorem proved by `sorry`); "
    "`open_session` + `run_tactic` step through tactics (any earlier state can be tried again); "
    "`finish_session` runs the full check on a state with no goals: only a `proved` verdict "
    "means the proof is correct."
)


def _result(
    text: str, structured: dict[str, Any] | None = None, *, error: bool = False
) -> CallToolResult:
    return CallToolResult.model_validate(
        {
            "content": [{"type": "text", "text": text}],
            "structuredContent": structured,
            "isError": error,
        }
    )


def render_verdict(verdict: Verdict) -> str:
    """A verdict for a model: status, reason, policy refusals, then the annotated feedback."""
    lines = [
        f"status: {verdict.status.value}"
        + (f" (target {verdict.target})" if verdict.target else "")
    ]
    if verdict.reason:
        lines.append(f"reason: {verdict.reason}")
    for violation in verdict.violations:
        lines.append(
            f"policy [{violation.rule}] {violation.line}:{violation.column + 1}: {violation.message}"
        )
    if verdict.feedback:
        lines += ["", verdict.feedback]
    else:
        for message in verdict.messages:
            where = f"{message.pos.line}:{message.pos.column + 1} " if message.pos else ""
            lines.append(
                f"{where}{message.severity.value}[{message.category.value}]: {message.text}"
            )
    return "\n".join(lines)


def _failure(exc: ProofgateError) -> CallToolResult:
    """An error result: what went wrong and what to do next."""
    if isinstance(exc, SubmissionError):
        text = f"invalid input ({exc.field or 'request'}): {exc}"
    elif isinstance(exc, NotReady):
        reason = exc.reason.removeprefix("cannot verify: ")
        text = f"proofgate cannot verify now: {reason}"
    elif isinstance(exc, Busy):
        text = f"proofgate is busy: {exc}; retry in {exc.retry_after:g} s"
    elif isinstance(exc, SessionError):
        text = f"session error: {exc}"
    else:
        text = f"proofgate failed: {exc}"
    return _result(text, {"error": type(exc).__name__, "message": str(exc)}, error=True)


class ProofgateTools:
    """The tools, bound to one backend; each returns a `CallToolResult` and never raises."""

    def __init__(self, backend: Backend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings

    async def _verdict(self, submission: Submission) -> CallToolResult:
        try:
            verdict = await self.backend.check(submission)
        except ProofgateError as exc:
            return _failure(exc)
        return _result(render_verdict(verdict), verdict.model_dump(mode="json"))

    async def check_proof(
        self, statement: str, proof: str, environment: str = "default"
    ) -> CallToolResult:
        """Check `proof` (a tactic block `by ...` or a term) of the locked `statement`."""
        try:
            submission = Submission(statement=statement, proof=proof, environment=environment)
        except ValueError as exc:
            return _failure(SubmissionError(str(exc)))
        return await self._verdict(submission)

    async def check_statement(
        self,
        code: Annotated[
            str,
            Field(
                description="A whole Lean file: its imports and every declaration, not a lone "
                "statement (to prove a locked statement, use check_proof)."
            ),
        ],
        environment: str = "default",
    ) -> CallToolResult:
        """Compile a whole Lean file (header included) and audit every theorem in it."""
        try:
            submission = Submission(code=code, environment=environment)
        except ValueError as exc:
            return _failure(SubmissionError(str(exc)))
        return await self._verdict(submission)

    async def lint(self, code: str, environment: str = "default") -> CallToolResult:
        """Run the policy pass alone on `code` (no Lean): what would be refused, and why."""
        try:
            policy = lint_policy(self.settings, environment)
        except ConfigError as exc:  # an unknown environment: answered as the checks answer it
            return _failure(SubmissionError(str(exc), field="environment"))
        result = check_source(code, policy.config)
        violations = [v.model_dump() for v in result.violations]
        if result.ok:
            text = "ok: nothing refused by policy (this says nothing about correctness)"
        else:
            text = "refused by policy:\n" + "\n".join(
                f"  {v.line}:{v.column + 1} [{v.rule}] {v.message}" for v in result.violations
            )
        if policy.note:
            text += f"\nnote: {policy.note}"
        return _result(text, {"ok": result.ok, "violations": violations})

    async def list_environments(self) -> CallToolResult:
        """The pinned Lean environments a check may name."""
        try:
            environments = await self.backend.environments()
        except ProofgateError as exc:
            return _failure(exc)
        lines = [f"{e.name}: Lean {e.lean}, Mathlib {e.mathlib or 'none'}" for e in environments]
        return _result(
            "\n".join(lines), {"environments": [e.model_dump(mode="json") for e in environments]}
        )

    async def open_session(self, statement: str, environment: str = "default") -> CallToolResult:
        """Open a proof session on a locked statement; state 0 holds its goal."""
        try:
            request = OpenSessionRequest(statement=statement, environment=environment)
            info = await self.backend.open_session(request)
        except ValueError as exc:
            return _failure(SubmissionError(str(exc)))
        except ProofgateError as exc:
            return _failure(exc)
        goals = "\n\n".join(info.root.goals)
        text = (
            f"session {info.session_id} on {info.target}; state 0 goal:\n{goals}\n"
            f"(it expires after {info.ttl_seconds:g} s idle)"
        )
        return _result(text, info.model_dump(mode="json"))

    async def run_tactic(self, session_id: str, state: int, tactic: str) -> CallToolResult:
        """Run one tactic on any state of the session: a new state, or why not."""
        try:
            outcome: TacticOutcome = await self.backend.run_tactic(session_id, state, tactic)
        except ProofgateError as exc:
            return _failure(exc)
        return _result(outcome.feedback, outcome.model_dump(mode="json"))

    async def finish_session(self, session_id: str, state: int) -> CallToolResult:
        """The full check of the proof at `state`: the only way to a `proved` verdict."""
        try:
            verdict = await self.backend.finish_session(session_id, state)
        except ProofgateError as exc:
            return _failure(exc)
        return _result(render_verdict(verdict), verdict.model_dump(mode="json"))

    async def close_session(self, session_id: str) -> CallToolResult:
        """Close a session now (sessions also expire when idle)."""
        try:
            await self.backend.close_session(session_id)
        except ProofgateError as exc:
            return _failure(exc)
        return _result(f"session {session_id} closed", {"closed": session_id})


_DESCRIPTIONS = {
    "check_proof": "Check a proof of a locked Lean statement (a theorem proved by `sorry`). "
    "`proof` replaces the `sorry`: a tactic block `by ...` or a term. Answers the verdict "
    "(proved, failed, incomplete, statement_mismatch, axiom_violation, rejected, ...) with "
    "Lean's errors annotated on the proof.",
    "check_statement": "Compile a whole Lean file: `code` is the file (imports and every "
    "declaration), not a lone statement, and no locked statement is checked against it "
    "(for that, use check_proof). `compiled` when it has no error and every theorem is "
    "sorry-free with allowed axioms.",
    "lint": "Run proofgate's policy pass alone on Lean code (no Lean): what would be refused "
    "before checking (I/O, #eval, #exit, debug options, disallowed imports, ...).",
    "list_environments": "List the pinned Lean environments (Lean and Mathlib versions).",
    "open_session": "Open an interactive proof session on a locked statement. Answers a "
    "session id and state 0 with the goal to prove.",
    "run_tactic": "Run one Lean tactic on a state of a session (any earlier state: the history "
    "is a tree). Answers the new state's goals, or Lean's error with the goals unchanged.",
    "finish_session": "Run the full trusted check on the proof at a state (the tactic path from "
    "state 0). Tactic mode alone can be fooled: only a `proved` verdict here counts.",
    "close_session": "Close a proof session that is no longer needed.",
}


def _arguments_error(name: str, error: ValidationError, schema: dict[str, Any] | None) -> str:
    """A tool's rejected arguments in words, each naming its field, then what the tool takes."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"`{field}` is missing")
        else:
            got = repr(item.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
            problems.append(f"`{field}` {item['msg'].removeprefix('Input ').lower()} (got {got})")
    takes = ""
    if schema:
        required = set(schema.get("required", ()))
        fields = [
            f"{field} ({spec.get('type', 'any')}{'' if field in required else ', optional'})"
            for field, spec in schema.get("properties", {}).items()
        ]
        takes = f"; {name} takes " + ", ".join(fields)
    return f"invalid arguments for {name}: " + "; ".join(problems) + takes


class _Server(MCPServer):
    """The SDK's server, answering a call with missing or wrong arguments in words that name the
    field (the SDK answers pydantic's raw text, meant for a programmer)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(
                _arguments_error(name, exc.__cause__, self._tool_input_schema(name))
            ) from exc.__cause__


def build_server(tools: ProofgateTools) -> MCPServer:
    """An MCP server exposing `tools` (not running yet)."""
    server: MCPServer = _Server("proofgate", instructions=_INSTRUCTIONS, version=__version__)
    for name in TOOL_NAMES:
        server.add_tool(getattr(tools, name), name=name, description=_DESCRIPTIONS[name])
    return server


async def serve(
    settings: Settings,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    server_url: str | None = None,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """Run the MCP server until its transport ends (stdin closed, or the HTTP server stopped).

    Streamable HTTP has no API keys here: it binds loopback only unless
    `settings.allow_unauthenticated` is set."""
    if transport == "http" and not is_loopback_host(host) and not settings.allow_unauthenticated:
        raise ConfigError(
            f"refusing to serve MCP on {host}: it has no authentication; bind 127.0.0.1, or set "
            "PROOFGATE_ALLOW_UNAUTHENTICATED=1 if something in front of it authenticates"
        )
    async with open_backend(settings, server=server_url, api_key=api_key) as backend:
        server = build_server(ProofgateTools(backend, settings))
        if transport == "stdio":
            await server.run_stdio_async()
        else:
            await server.run_streamable_http_async(host=host, port=port)
