"""What a CI run found: one `CiResult` per locked result (or build error), gathered in a `CiReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from proofgate.models import Verdict

__all__ = [
    "EXIT_FAILED",
    "EXIT_INFRA",
    "EXIT_OK",
    "CiReport",
    "CiResult",
    "Outcome",
    "display_path",
]

EXIT_OK, EXIT_FAILED, EXIT_INFRA = 0, 1, 3


class Outcome(str, Enum):
    """`passed`; `failed` (the repository's fault); `error` (proofgate's or the network's)."""

    passed = "passed"
    failed = "failed"
    error = "error"


@dataclass
class CiResult:
    """One locked result (or the build), with where a person should look."""

    file: str  # path as shown to people and annotations: relative to the base directory
    theorem: str
    line: int  # 1-based
    column: int  # 0-based
    status: str  # a verdict status, or statement_changed, target_missing, build_failed, not_checked
    outcome: Outcome
    message: str
    verdict: Verdict | None = None
    duration_ms: float = 0.0

    @property
    def cached(self) -> bool:
        return self.verdict is not None and self.verdict.cached


@dataclass
class CiReport:
    """Everything a run found; the outputs in `proofgate.ci.report` render it."""

    root: Path
    results: list[CiResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    environment: str | None = None  # what the checks ran in (None: nothing was checked)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def exit_code(self) -> int:
        """0 all passed, 1 any failure of the repository, else 3 if proofgate could not check."""
        if self.count(Outcome.failed):
            return EXIT_FAILED
        if self.count(Outcome.error):
            return EXIT_INFRA
        return EXIT_OK


def display_path(root: Path, relative: str, base: Path) -> str:
    """`root/relative` as seen from `base` (the job's working directory), POSIX-style."""
    path = (root / relative).resolve()
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
