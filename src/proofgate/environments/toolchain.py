"""Finding the Lean toolchain, Mathlib's oleans and the REPL binary for an environment.

Each environment has its own toolchain, looked for in this order: its own home (`lean_home_for`:
`PROOFGATE_LEAN_HOME` for `default`, `PROOFGATE_LEAN_HOME__<DIR>` for `LeanProjects/<dir>/`), elan's
directory for its `lean-toolchain`, then `PATH`. The first `lean` that prints the pinned version
wins; when none does, the first one found is reported with its version, so the problem names it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment

__all__ = ["LEAN_HOME_VARIABLE", "LeanInstall", "find_lean", "lean_home_for", "lean_home_variable"]

#: The default environment's toolchain home (`Settings.lean_home`); another environment's is this
#: name, two underscores and its directory name upper-cased (`lean_home_variable`).
LEAN_HOME_VARIABLE = "PROOFGATE_LEAN_HOME"


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


def lean_home_variable(environment_name: str) -> str:
    """`PROOFGATE_LEAN_HOME__LEAN_V4_9_0` for `LeanProjects/lean_v4_9_0/` (`PROOFGATE_LEAN_HOME` for
    `default`): the name upper-cased, each character a variable name cannot hold made `_`."""
    if environment_name == "default":
        return LEAN_HOME_VARIABLE
    return f"{LEAN_HOME_VARIABLE}__{re.sub(r'[^A-Z0-9_]', '_', environment_name.upper())}"


def lean_home_for(settings: Settings, environment: Environment) -> Path | None:
    """The directory holding `bin/lean` that `environment` was given, if any.

    `default` takes `settings.lean_home` (PROOFGATE_LEAN_HOME). Another environment never does
    (its toolchain is another Lean): it takes `PROOFGATE_LEAN_HOME__<DIR>` from the process
    environment, read here only, because a settings field cannot be named per directory."""
    if environment.name == "default":
        return settings.lean_home
    value = os.environ.get(lean_home_variable(environment.name), "").strip()
    return Path(value).expanduser() if value else None


def _candidate_bins(settings: Settings, environment: Environment) -> list[Path]:
    candidates: list[Path] = []
    home = lean_home_for(settings, environment)
    if home is not None:
        candidates.append(home / "bin")
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
    lean = lake = version = None
    for directory in _candidate_bins(settings, environment):
        candidate = directory / "lean"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        found = _lean_version(candidate)
        if lean is None or found == expected:  # the first one, unless a later one is pinned
            lean, version = candidate, found
            lake_path = directory / "lake"
            lake = (
                lake_path
                if lake_path.is_file()
                else (Path(p) if (p := shutil.which("lake")) else None)
            )
        if found == expected:
            break
    problems: list[str] = []
    setup = "proofgate setup" + (
        "" if environment.name == "default" else f" --environment {environment.name}"
    )
    hint = (
        f"run `{setup}`, or set {lean_home_variable(environment.name)} to a directory with bin/lean"
    )
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
