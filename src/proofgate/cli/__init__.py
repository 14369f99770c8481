"""`proofgate` command line: each command lives in its own module, registered here.

Exit codes: 0 success, 1 the submission (or check) failed, 2 usage error, 3 infrastructure.
"""

from __future__ import annotations

from typing import Annotated

import typer

from proofgate.cli import audit_statements as audit_statements_cli
from proofgate.cli import batch as batch_cli
from proofgate.cli import bench as bench_cli
from proofgate.cli import cache, check, ci, common, keys, lint, server, usage
from proofgate.cli import extract as extract_cli
from proofgate.cli import mcp as mcp_cli
from proofgate.cli import record as record_cli
from proofgate.cli import report as report_cli
from proofgate.cli import triage as triage_cli

app = typer.Typer(
    name="proofgate",
    help="Lean-backed proof verification: verdicts that cannot be gamed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
usage.plain_help()


@app.callback()
def options(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Log what happens: -v info, -vv debug (stderr).",
        ),
    ] = 0,
) -> None:
    """Lean-backed proof verification: verdicts that cannot be gamed."""
    common.set_verbosity(verbose)


server.register(app)
ci.register(app)
check.register(app)
cache.register(app)
lint.register(app)
mcp_cli.register(app)
keys.register(app)
batch_cli.register(app)
record_cli.register(app)
report_cli.register(app)
bench_cli.register(app)
triage_cli.register(app)
audit_statements_cli.register(app)
extract_cli.register(app)


def main() -> None:
    app()
