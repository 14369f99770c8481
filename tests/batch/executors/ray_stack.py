"""The stand-in stack as a Ray actor builds it (this module is imported inside Ray workers)."""

from __future__ import annotations

import os
from pathlib import Path

from proofgate.bench.simulated_repl import SimulatedReplLauncher
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.support.stack import make_stack


def actor_service(root: str, tag: str) -> CheckerService:
    """A service on the stand-ins in its own directory; its REPLs carry `--tag tag`."""
    directory = Path(root) / f"actor-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    stack = make_stack(directory)
    return CheckerService(
        stack.settings,
        spawner=ProcessGroupSpawner(),
        launcher=SimulatedReplLauncher(stack.settings, ["--tag", tag]),
    )
