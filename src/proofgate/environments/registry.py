"""Pinned Lean environments: the root project (`default`) and each `LeanProjects/NAME/`.

An environment is a Lake project with its own `lean-toolchain` and `lake-manifest.json`; the
manifest pins every dependency to a commit, and those dependencies' modules are what a submission
may import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from proofgate.config import Settings
from proofgate.exceptions import ConfigError

__all__ = ["Environment", "discover_environments", "get_environment"]

#: Module roots every Lean environment has, whatever its manifest says.
CORE_MODULE_ROOTS = ("Init", "Std", "Lean", "Lake")

#: Lake package names whose module root differs from the package name.
_PACKAGE_MODULE_ROOTS: dict[str, tuple[str, ...]] = {
    "mathlib": ("Mathlib",),
    "batteries": ("Batteries",),
    "aesop": ("Aesop",),
    "Qq": ("Qq",),
    "proofwidgets": ("ProofWidgets",),
    "importGraph": ("ImportGraph",),
    "LeanSearchClient": ("LeanSearchClient",),
    "plausible": ("Plausible",),
    "Cli": ("Cli",),
}

#: Packages whose modules run code at import or talk to the outside; never importable.
_NEVER_IMPORTABLE = frozenset({"REPL", "Cli", "LeanSearchClient", "importGraph"})


@dataclass(frozen=True)
class Environment:
    """One pinned Lake project that submissions can be checked against."""

    name: str
    directory: Path
    toolchain: str
    packages: dict[str, str] = field(default_factory=dict)  # package name -> commit

    @property
    def lean_version(self) -> str:
        """`v4.32.0` from `leanprover/lean4:v4.32.0`."""
        return self.toolchain.rsplit(":", 1)[-1]

    @property
    def mathlib_commit(self) -> str | None:
        return self.packages.get("mathlib")

    @property
    def repl_commit(self) -> str | None:
        return self.packages.get("REPL")

    @property
    def module_roots(self) -> frozenset[str]:
        """Top-level module names a submission may import from."""
        roots: set[str] = set(CORE_MODULE_ROOTS)
        for package in self.packages:
            if package in _NEVER_IMPORTABLE:
                continue
            roots.update(_PACKAGE_MODULE_ROOTS.get(package, (package,)))
        return frozenset(roots)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "toolchain": self.toolchain,
            "lean": self.lean_version,
            "mathlib": self.mathlib_commit,
            "repl": self.repl_commit,
            "packages": dict(self.packages),
        }


def load_environment(name: str, directory: Path) -> Environment:
    """Read one Lake project's pins; a missing or malformed file is a `ConfigError`."""
    toolchain_file = directory / "lean-toolchain"
    manifest_file = directory / "lake-manifest.json"
    try:
        toolchain = toolchain_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"environment {name!r}: cannot read {toolchain_file}: {exc}") from exc
    packages: dict[str, str] = {}
    if manifest_file.exists():
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            for package in manifest.get("packages", []):
                packages[str(package["name"])] = str(package.get("rev", ""))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"environment {name!r}: bad {manifest_file}: {exc}") from exc
    if not toolchain:
        raise ConfigError(f"environment {name!r}: {toolchain_file} is empty")
    return Environment(name=name, directory=directory, toolchain=toolchain, packages=packages)


def discover_environments(settings: Settings) -> dict[str, Environment]:
    """`default` (the root project) plus every `LeanProjects/NAME/` holding a `lean-toolchain`."""
    environments = {"default": load_environment("default", settings.project_dir)}
    projects = settings.lean_projects_dir
    if projects.is_dir():
        for child in sorted(projects.iterdir()):
            if child.is_dir() and (child / "lean-toolchain").exists() and child.name != "default":
                environments[child.name] = load_environment(child.name, child)
    return environments


def get_environment(settings: Settings, name: str) -> Environment:
    environments = discover_environments(settings)
    try:
        return environments[name]
    except KeyError:
        known = ", ".join(sorted(environments))
        raise ConfigError(f"unknown environment {name!r}; known: {known}") from None
