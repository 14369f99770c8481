"""`proofgate mcp` with the official SDK's own clients.

- over stdio, the real `proofgate mcp` subprocess without Lean: every tool is listed and called;
  those that need Lean answer the clear not-ready error, the rest real results;
- in-process (the SDK's in-memory connection) on the stand-in stack, local and through a server:
  a session from open to a `proved` finish, with the same feedback as the HTTP API;
- over streamable HTTP, the real subprocess again, on a loopback port.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

mcp = pytest.importorskip("mcp", reason="the `mcp` extra is not installed")
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from proofgate.api.app import create_app
from proofgate.backends import LocalBackend, open_backend
from proofgate.exceptions import ConfigError
from proofgate.mcp_server import TOOL_NAMES, ProofgateTools, build_server, serve
from proofgate.service import CheckerService
from tests.support.live_app import run_app
from tests.support.server import free_port
from tests.support.stack import Stack, make_stack, running_service

LOCKED = "theorem t : 1 + 1 = 2 := by sorry"
STATEMENT = """import Mathlib

theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  -- standin: goal p q : Prop\\nhp : p\\nhq : q\\n⊢ p ∧ q
  -- standin: sorry
  sorry
"""


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PROOFGATE_DATA_DIR": str(tmp_path / "data"),
        "PROOFGATE_ELAN_HOME": str(tmp_path / "elan"),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


# --- stdio, the real command ------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_every_tool_over_stdio_without_lean(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "proofgate", "mcp"], env=_env(tmp_path)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == set(TOOL_NAMES)
        assert set(tools["run_tactic"].input_schema["required"]) == {
            "session_id",
            "state",
            "tactic",
        }
        assert all(tool.description for tool in tools.values())

        clean = await session.call_tool("lint", {"code": "theorem t : True := trivial"})
        assert not clean.is_error and clean.structured_content["ok"] is True
        refused = await session.call_tool("lint", {"code": "#eval IO.Process.exit 0"})
        assert refused.structured_content["ok"] is False and "[eval]" in _text(refused)

        environments = await session.call_tool("list_environments", {})
        names = [e["name"] for e in environments.structured_content["environments"]]
        assert "default" in names and "Lean v4.32.0" in _text(environments)

        rejected = await session.call_tool(
            "check_proof", {"statement": LOCKED, "proof": "by\n  #exit"}
        )
        assert not rejected.is_error
        assert rejected.structured_content["status"] == "rejected"
        assert "status: rejected" in _text(rejected) and "#exit" in _text(rejected)
        compiled = await session.call_tool("check_statement", {"code": "#eval 1"})
        assert compiled.structured_content["status"] == "rejected"

        for name, arguments in [
            ("check_proof", {"statement": LOCKED, "proof": "by norm_num"}),
            ("check_statement", {"code": "theorem t : True := trivial"}),
            ("open_session", {"statement": LOCKED}),
        ]:
            needs_lean = await session.call_tool(name, arguments)
            assert needs_lean.is_error, name
            assert "cannot verify now" in _text(needs_lean) and "proofgate setup" in _text(
                needs_lean
            )

        for name, arguments in [
            ("run_tactic", {"session_id": "no-such-session", "state": 0, "tactic": "rfl"}),
            ("finish_session", {"session_id": "no-such-session", "state": 1}),
            ("close_session", {"session_id": "no-such-session"}),
        ]:
            gone = await session.call_tool(name, arguments)
            assert gone.is_error and "no session no-such-session" in _text(gone), name


# --- in process on the stand-in stack -----------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path, cache_enabled=False)


@pytest.fixture
async def service(stack: Stack) -> AsyncIterator[CheckerService]:
    async with running_service(stack) as started:
        yield started


async def _prove_in_a_session(client: Client) -> None:
    opened = await client.call_tool("open_session", {"statement": STATEMENT})
    assert not opened.is_error, _text(opened)
    sid = opened.structured_content["session_id"]
    assert "⊢ p ∧ q" in _text(opened)
    wrong = await client.call_tool(
        "run_tactic",
        {"session_id": sid, "state": 0, "tactic": "exact hq -- standin: error type mismatch"},
    )
    assert wrong.structured_content["outcome"] == "error"
    assert "goals of state 0, unchanged" in _text(wrong)
    step = await client.call_tool(
        "run_tactic", {"session_id": sid, "state": 0, "tactic": "exact ⟨hp, hq⟩"}
    )
    assert step.structured_content["outcome"] == "ok"
    assert step.structured_content["state"]["status"] == "no_goals"
    assert _text(step) == step.structured_content["feedback"]
    finished = await client.call_tool("finish_session", {"session_id": sid, "state": 1})
    assert finished.structured_content["status"] == "proved"
    assert _text(finished).startswith("status: proved (target t)")
    closed = await client.call_tool("close_session", {"session_id": sid})
    assert not closed.is_error
    again = await client.call_tool("run_tactic", {"session_id": sid, "state": 0, "tactic": "rfl"})
    assert again.is_error and "closed" in _text(again)


async def test_tools_in_process_on_a_local_service(stack: Stack, service: CheckerService) -> None:
    backend = LocalBackend(service)
    server = build_server(ProofgateTools(backend, stack.settings))
    async with contextlib.aclosing(backend), Client(server) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == set(TOOL_NAMES)
        await _prove_in_a_session(client)
        checked = await client.call_tool(
            "check_proof", {"statement": STATEMENT, "proof": "by\n  exact ⟨hp, hq⟩"}
        )
        assert checked.structured_content["status"] == "proved"
        stack.scenario(axioms=["propext", "sorryAx"])
        incomplete = await client.call_tool(
            "check_proof", {"statement": STATEMENT, "proof": "by\n  exact ⟨hq, hp⟩"}
        )
        assert incomplete.structured_content["status"] == "incomplete"
        assert _text(incomplete).startswith("status: incomplete")


@pytest.fixture
def _logs_to_stderr() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("_logs_to_stderr")
async def test_tools_in_process_through_a_proofgate_server(stack: Stack) -> None:
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        async with open_backend(stack.settings, server=url) as backend:
            server = build_server(ProofgateTools(backend, stack.settings))
            async with Client(server) as client:
                await _prove_in_a_session(client)
                environments = await client.call_tool("list_environments", {})
                assert environments.structured_content["environments"][0]["name"] == "default"


async def test_http_transport_refuses_other_addresses_without_auth(stack: Stack) -> None:
    with pytest.raises(ConfigError, match="no authentication"):
        await serve(stack.settings, transport="http", host="0.0.0.0", port=free_port())


# --- streamable HTTP, the real command ----------------------------------------------------------


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proofgate mcp exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"proofgate mcp did not listen on {port} within {seconds} s")


@pytest.fixture
def mcp_over_http(tmp_path: Path) -> Iterator[int]:
    """The real `proofgate mcp --transport http` on a free loopback port; its port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "proofgate", "mcp", "--transport", "http", "--port", str(port)],
        env={**_env(tmp_path), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process, 30)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.timeout(60)
async def test_streamable_http_transport(mcp_over_http: int) -> None:
    url = f"http://127.0.0.1:{mcp_over_http}/mcp"
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert names == set(TOOL_NAMES)
        linted = await session.call_tool("lint", {"code": "set_option maxHeartbeats 0 in"})
        assert linted.structured_content["ok"] is False


# --- arguments and logs (issue 30, peers' clients) ----------------------------------------------


async def test_missing_or_wrong_arguments_answer_a_readable_error_naming_the_field(
    stack: Stack,
) -> None:
    server = build_server(ProofgateTools(LocalBackend(stack.service()), stack.settings))
    async with Client(server) as client:
        missing = await client.call_tool("run_tactic", {"session_id": "s"})
        assert missing.is_error
        assert _text(missing) == (
            "invalid arguments for run_tactic: `state` is missing; `tactic` is missing; "
            "run_tactic takes session_id (string), state (integer), tactic (string)"
        )
        wrong = await client.call_tool("lint", {"code": 5})
        assert wrong.is_error and _text(wrong).startswith(
            "invalid arguments for lint: `code` should be a valid string (got 5)"
        )
        assert "pydantic" not in _text(missing) + _text(wrong)
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        described = tools["check_statement"]
        assert "whole Lean file" in (described.description or "")
        assert "not a lone statement" in described.input_schema["properties"]["code"]["description"]


async def test_lint_in_an_unknown_environment_is_a_tool_error_naming_the_known_ones(
    stack: Stack,
) -> None:
    """As `proofgate lint` (one builder, verify/lint_policy.py): no quiet fallback on the
    standard roots for a name that does not exist."""
    server = build_server(ProofgateTools(LocalBackend(stack.service()), stack.settings))
    async with Client(server) as client:
        unknown = await client.call_tool("lint", {"code": "#eval 1", "environment": "nowhere"})
        assert unknown.is_error
        assert _text(unknown).startswith(
            "invalid input (environment): unknown environment 'nowhere'; known: default, "
        )
        known = await client.call_tool("lint", {"code": "#eval 1", "environment": "default"})
        assert not known.is_error and known.structured_content["ok"] is False


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("_logs_to_stderr")
async def test_with_a_server_the_http_clients_request_lines_are_off(
    stack: Stack, tmp_path: Path
) -> None:
    errors = tmp_path / "mcp.stderr"
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "proofgate", "mcp", "--server", url],
            env={**_env(tmp_path), "PROOFGATE_LOG_LEVEL": "info"},
        )
        with errors.open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.call_tool("list_environments", {})
                assert not listed.is_error, _text(listed)
    assert "HTTP Request" not in errors.read_text(), errors.read_text()
