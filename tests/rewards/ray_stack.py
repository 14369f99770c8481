"""The stand-in stack as a reward actor builds it (this module is imported inside Ray workers)."""

from __future__ import annotations

import os
from pathlib import Path

from proofgate.service import CheckerService
from tests.support.stack import make_stack


def reward_actor_service(root: str, tag: str) -> CheckerService:
    """A service on the stand-ins (tests/support/stack.py) in a directory of its own; its REPLs
    carry `--tag tag`, so the test can see none outlives the run."""
    directory = Path(root) / f"reward-actor-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    return make_stack(directory).service("--tag", tag)
