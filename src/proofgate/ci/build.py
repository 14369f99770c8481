"""Build the user's repository with its own `lake build` before checking it.

Build errors that Lake reports as `error: FILE:LINE:COL: message` become one failure each, so they
land on the right line in every output; anything else becomes one failure at the lakefile.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from proofgate.ci.results import CiResult, Outcome, display_path
from proofgate.config import Settings

__all__ = ["find_lake", "lake_project", "run_build"]

_LAKEFILES = ("lakefile.lean", "lakefile.toml")
_LAKE_ERROR = re.compile(
    r"^error: (?:\./)*(?P<file>[^:\n]+\.lean):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$", re.M
)


def find_lake(settings: Settings) -> Path | None:
    """The `lake` to build the user's repository with: PROOFGATE_LEAN_HOME, PATH, then elan's."""
    candidates = []
    if settings.lean_home is not None:
        candidates.append(settings.lean_home / "bin" / "lake")
    on_path = shutil.which("lake")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(settings.elan_home / "bin" / "lake")
    return next((c for c in candidates if c.is_file()), None)


def lake_project(root: Path) -> Path | None:
    """The nearest directory at or above `root` holding a lakefile."""
    for directory in (root, *root.parents):
        if any((directory / name).is_file() for name in _LAKEFILES):
            return directory
    return None


def run_build(
    root: Path, lake: Path | None, *, base: Path, timeout: float = 7200.0
) -> tuple[list[CiResult], str]:
    """`lake build` in the repository; returns failures (one per reported error) and a note."""
    project = lake_project(root)
    if project is None:
        return [], f"no lakefile at or above {root}: build skipped"
    if lake is None:
        return (
            [],
            "lake not found (run `proofgate setup`, or set PROOFGATE_LEAN_HOME): build skipped",
        )
    try:
        run = subprocess.run(
            [str(lake), "build"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [
            _build_failure(project, base, f"`lake build` ran past {timeout:.0f}s")
        ], "lake build timed out"
    except OSError as exc:
        return [
            _build_failure(project, base, f"cannot run {lake}: {exc}")
        ], "lake build could not start"
    if run.returncode == 0:
        return [], f"lake build in {project}: ok"
    output = (run.stdout or "") + (run.stderr or "")
    failures = [
        CiResult(
            file=display_path(project, match["file"], base),
            theorem="lake build",
            line=int(match["line"]),
            column=int(match["col"]),
            status="build_failed",
            outcome=Outcome.failed,
            message=match["msg"].strip(),
        )
        for match in _LAKE_ERROR.finditer(output)
    ]
    if not failures:
        tail = "\n".join(output.strip().splitlines()[-30:])
        failures = [_build_failure(project, base, f"`lake build` exited {run.returncode}:\n{tail}")]
    return failures, f"lake build in {project}: failed (exit {run.returncode})"


def _build_failure(project: Path, base: Path, message: str) -> CiResult:
    lakefile = next((n for n in _LAKEFILES if (project / n).is_file()), _LAKEFILES[0])
    return CiResult(
        display_path(project, lakefile, base),
        "lake build",
        1,
        0,
        "build_failed",
        Outcome.failed,
        message,
    )
