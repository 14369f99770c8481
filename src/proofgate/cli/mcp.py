"""`proofgate mcp`: serve proofgate's tools over the Model Context Protocol (stdio or HTTP).

Needs the `mcp` extra (`pip install 'proofgate[mcp]'`). With `--server URL` the tools run on that
proofgate server (the key comes from PROOFGATE_API_KEY); otherwise on an in-process service, which
needs the Lean toolchain for everything but `lint`, policy refusals and `list_environments`.
stdout belongs to the protocol: logs go to stderr.
"""

from __future__ import annotations

import asyncio
import os
from enum import Enum
from typing import Annotated

import typer

from proofgate.cli.common import ExitCode, ServerOption, configure_cli_logging, fail, load_settings
from proofgate.exceptions import ConfigError

__all__ = ["mcp", "register"]


class Transport(str, Enum):
    stdio = "stdio"
    http = "http"


def mcp(
    transport: Annotated[
        Transport, typer.Option(help="`stdio` (an MCP client starts this) or streamable `http`.")
    ] = Transport.stdio,
    server: ServerOption = None,
    host: Annotated[
        str,
        typer.Option(
            help="Address for --transport http (loopback only "
            "unless PROOFGATE_ALLOW_UNAUTHENTICATED)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for --transport http.")] = 8765,
) -> None:
    """Serve proofgate's checks and proof sessions as MCP tools."""
    try:
        from proofgate.mcp_server import serve
    except ImportError as exc:
        fail(f"the MCP server needs the `mcp` extra: pip install 'proofgate[mcp]' ({exc})")

    settings = load_settings()
    configure_cli_logging(settings)
    try:
        asyncio.run(
            serve(
                settings,
                transport=transport.value,
                server_url=server,
                api_key=os.environ.get("PROOFGATE_API_KEY") or None,
                host=host,
                port=port,
            )
        )
    except ConfigError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.infra) from None


def register(app: typer.Typer) -> None:
    app.command()(mcp)
