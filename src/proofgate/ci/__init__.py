"""CI mode: guard a repository of formalized results (`proofgate ci`).

`manifest` reads and writes `proofgate.toml`; `discover` finds theorems and their locked
statements without Lean; `runner` builds, compares and checks; `report` renders the outputs.
"""

from proofgate.ci.checkers import Checker
from proofgate.ci.manifest import (
    MANIFEST_NAME,
    LockedResult,
    Manifest,
    load_manifest,
    write_manifest,
)
from proofgate.ci.results import CiReport, CiResult, Outcome
from proofgate.ci.runner import lock_repository, run_ci

__all__ = [
    "MANIFEST_NAME",
    "Checker",
    "CiReport",
    "CiResult",
    "LockedResult",
    "Manifest",
    "Outcome",
    "load_manifest",
    "lock_repository",
    "run_ci",
    "write_manifest",
]
