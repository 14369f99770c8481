"""Which environment a CI run checks in, and why (the report says both).

In order: `proofgate ci --environment NAME`; else the manifest's `environment`; else the
environment whose toolchain is the repository's own `lean-toolchain` (`default` first when it
matches, so a repository on proofgate's own Lean stays there); else `default`. A name given by the
option or the manifest must be one the checker serves: otherwise the run is a usage error naming
the known ones, before anything is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proofgate.ci.checkers import Checker
from proofgate.ci.manifest import MANIFEST_NAME, Manifest
from proofgate.environments.registry import lean_version_of
from proofgate.exceptions import ConfigError

__all__ = ["ChosenEnvironment", "choose_environment", "repository_toolchain"]

#: Files that mark a Lake project's root: the search for `lean-toolchain` stops there.
_PROJECT_MARKERS = ("lean-toolchain", "lakefile.lean", "lakefile.toml", ".git")


@dataclass(frozen=True)
class ChosenEnvironment:
    name: str
    why: str  # how it was chosen, for the report's notes


def repository_toolchain(root: Path) -> tuple[Path, str] | None:
    """The `lean-toolchain` of the Lake project holding `root` (`root` or the nearest parent that
    marks a project root) and its toolchain, e.g. `leanprover/lean4:v4.15.0`; None without one."""
    for directory in (root, *root.parents):
        if any((directory / marker).exists() for marker in _PROJECT_MARKERS):
            path = directory / "lean-toolchain"
            try:
                toolchain = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            return (path, toolchain) if toolchain else None
    return None


async def choose_environment(
    root: Path, manifest: Manifest | None, option: str | None, checker: Checker
) -> ChosenEnvironment:
    """The environment of this run (see the module docstring); `ConfigError` for a name the
    checker does not serve."""
    named = option or (manifest.environment if manifest is not None else None)
    if named is not None:
        served = [info.name for info in await checker.environments()]
        if named not in served:
            where = "--environment" if option else f"{MANIFEST_NAME}'s environment"
            raise ConfigError(
                f"{where} names {named!r}, which is not served here; known: "
                + ", ".join(sorted(served))
            )
        why = "given with --environment" if option else f"named by {MANIFEST_NAME}"
        return ChosenEnvironment(named, why)
    found = repository_toolchain(root)
    if found is None:
        return ChosenEnvironment("default", "the repository has no lean-toolchain")
    path, toolchain = found
    environments = await checker.environments()
    version = lean_version_of(toolchain)
    matching = [e for e in environments if lean_version_of(e.toolchain) == version]
    matching.sort(key=lambda e: (e.name != "default", e.name))
    if matching:
        why = f"its toolchain is the repository's ({toolchain}, {path})"
        if len(matching) > 1:
            others = ", ".join(e.name for e in matching[1:])
            why += f"; {others} pin it too: name one with --environment"
        return ChosenEnvironment(matching[0].name, why)
    default = next((e for e in environments if e.name == "default"), None)
    pinned = f" ({default.toolchain})" if default is not None else ""
    return ChosenEnvironment(
        "default",
        f"no environment pins the repository's {toolchain} ({path}): default{pinned} is used; "
        "add a preset under LeanProjects/ or name one with --environment",
    )
