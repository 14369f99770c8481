"""CI mode: guard a repository of formalized results (`proofgate ci`).

`manifest` reads and writes `proofgate.toml`; `discover` finds theorems and their locked
statements without Lean; `runner` builds, compares and checks; `report` renders the outputs.
"""

from proofgate.ci import manifest
from proofgate.ci.checkers import Checker
from proofgate.ci.manifest import *  # noqa: F403  (the names in manifest.__all__)
from proofgate.ci.results import CiReport, CiResult, Outcome
from proofgate.ci.runner import lock_repository, run_ci

__all__ = [
    *manifest.__all__,
    "Checker",
    "CiReport",
    "CiResult",
    "Outcome",
    "lock_repository",
    "run_ci",
]
