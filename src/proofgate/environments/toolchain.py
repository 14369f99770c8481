"""Finding the Lean toolchain, Mathlib's oleans and the REPL binary for an environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment

__all__ = ["LeanInstall", "find_lean"]


@dataclass(frozen=True)
class LeanInstall:
    """What was found for one environment; `problems` is empty when it can verify."""

    lean: Path | None
    lake: Path | None
    version: str | None
    expected: str
    mathlib_built: bool
    repl_binary: Path | None
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems


def _toolchain_dir_name(toolchain: str) -> str:
    """elan's directory name for a toolchain: `leanprover/lean4:v4.32.0` -> `leanprover--lean4---v4.32.0`."""
    return toolchain.replace("/", "--").replace(":", "---")


def _candidate_bins(settings: Settings, environment: Environment) -> list[Path]:
    candidates: list[Path] = []
    if settings.lean_home is not None:
        candidates.append(settings.lean_home / "bin")
    candidates.append(
        settings.elan_home / "toolchains" / _toolchain_dir_name(environment.toolchain) / "bin"
    )
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            candidates.append(Path(entry))
    return candidates


def _lean_version(lean: Path) -> str | None:
    """`v4.32.0` from `Lean (version 4.32.0, ...)`; None when it does not run."""
    try:
        out = subprocess.run(
            [str(lean), "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    marker = "version "
    if marker not in out:
        return None
    number = out.split(marker, 1)[1].split(",", 1)[0].split()[0].strip()
    return number if number.startswith("v") else f"v{number}"


def find_lean(settings: Settings, environment: Environment) -> LeanInstall:
    """Look for the pinned toolchain; every problem says how to fix it."""
    expected = environment.lean_version
    lean = lake = None
    for directory in _candidate_bins(settings, environment):
        if (directory / "lean").is_file() and os.access(directory / "lean", os.X_OK):
            lean = directory / "lean"
            lake_path = directory / "lake"
            lake = (
                lake_path
                if lake_path.is_file()
                else (Path(p) if (p := shutil.which("lake")) else None)
            )
            break
    problems: list[str] = []
    version = _lean_version(lean) if lean else None
    hint = "run `proofgate setup`, or set PROOFGATE_LEAN_HOME to a directory with bin/lean"
    if lean is None:
        problems.append(f"Lean toolchain {expected} not found: {hint}")
    elif version != expected:
        problems.append(f"Lean at {lean} is {version or 'unrunnable'}, pinned {expected}: {hint}")
    if lake is None and lean is not None:
        problems.append(f"`lake` not found beside {lean}: {hint}")
    packages = environment.directory / ".lake" / "packages"
    mathlib_built = (
        packages / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
    ).exists()
    if "mathlib" in environment.packages and not mathlib_built:
        problems.append(
            f"Mathlib oleans missing under {packages / 'mathlib'}: run `proofgate setup` "
            "(it fetches the Mathlib build cache)"
        )
    repl = packages / "REPL" / ".lake" / "build" / "bin" / "repl"
    repl_binary = repl if repl.exists() else None
    if repl_binary is None:
        problems.append(f"REPL binary missing ({repl}): run `proofgate setup`")
    return LeanInstall(
        lean=lean,
        lake=lake,
        version=version,
        expected=expected,
        mathlib_built=mathlib_built,
        repl_binary=repl_binary,
        problems=tuple(problems),
    )
