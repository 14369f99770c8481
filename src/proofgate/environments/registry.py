"""Pinned Lean environments: the root project (`default`) and each `LeanProjects/NAME/`.

An environment is a Lake project with its own `lean-toolchain` and `lake-manifest.json`; the
manifest pins every dependency to a commit, and those dependencies' modules are what a submission
may import.

Its option set (`OPTIONS_FILE`, optional) is the Lean options every check in it runs under, given
to each Lean process explicitly: `-D` to the audit's compiles, `set_option` commands on the REPL's
header env (the REPL takes no options on its command line). Without the file: Lean's own defaults,
as the REPL and the Kimina Lean Server run, so verdicts agree with published benchmark numbers.
A Lake package's `leanOptions` reach neither (they apply to `lake build` of that package only).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from proofgate.config import Settings
from proofgate.exceptions import ConfigError

__all__ = [
    "MATHLIB_OPTIONS",
    "OPTIONS_FILE",
    "Environment",
    "LeanValue",
    "discover_environments",
    "get_environment",
    "lean_version_of",
]

#: An environment's option set, in its directory: a JSON object of option name to value, e.g.
#: `MATHLIB_OPTIONS`. Absent: Lean's own defaults.
OPTIONS_FILE = "proofgate-options.json"
LeanValue = bool | int | str
#: Mathlib's own settings for its files (its lakefile's `leanOptions`): an environment may opt in.
MATHLIB_OPTIONS: dict[str, LeanValue] = {"autoImplicit": False, "relaxedAutoImplicit": False}
_OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
#: Option prefixes an environment may not set: `debug.*` weakens checks (`debug.skipKernelTC`),
#: `weak.*` would hide a misspelt name from Lean's own check (`reparseOptions`).
_REFUSED_OPTION_PREFIXES = ("debug", "weak")

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


def lean_version_of(toolchain: str) -> str:
    """The Lean version a toolchain string pins: `v4.32.0` from `leanprover/lean4:v4.32.0` (or
    from `v4.32.0` itself)."""
    return toolchain.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Environment:
    """One pinned Lake project that submissions can be checked against."""

    name: str
    directory: Path
    toolchain: str
    packages: dict[str, str] = field(default_factory=dict)  # package name -> commit
    #: The Lean options every check runs under (`OPTIONS_FILE`); empty: Lean's defaults.
    lean_options: dict[str, LeanValue] = field(default_factory=dict)
    #: package name -> the tag or branch its manifest entry was resolved from (`inputRev`)
    input_revs: dict[str, str] = field(default_factory=dict)

    @property
    def lean_version(self) -> str:
        """`v4.32.0` from `leanprover/lean4:v4.32.0`."""
        return lean_version_of(self.toolchain)

    @property
    def mathlib_commit(self) -> str | None:
        return self.packages.get("mathlib")

    @property
    def repl_commit(self) -> str | None:
        return self.packages.get("REPL")

    @property
    def repl_version(self) -> str:
        """The REPL tag the manifest pins (its `inputRev`, e.g. `v4.9.0`), else the Lean version:
        the REPL is tagged per Lean release, and its protocol varies with it
        (`proofgate.lean.protocol`)."""
        tag = self.input_revs.get("REPL", "")
        return tag if re.fullmatch(r"v\d+\.\d+\.\d+(-rc\d+)?", tag) else self.lean_version

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
            "lean_options": dict(sorted(self.lean_options.items())),
        }

    def option_args(self) -> list[str]:
        """The option set as `lean` takes it: one `-DNAME=VALUE` each (Lean's `-D name=value`)."""
        return [
            f"-D{name}={_value_text(value)}" for name, value in sorted(self.lean_options.items())
        ]

    def option_commands(self) -> str:
        """The option set as REPL commands, one `set_option NAME VALUE` a line ("" for none).

        The REPL's `main` ignores its arguments and elaborates with `opts := {}`; a top-level
        `set_option` changes the scope of the command state that an `env` id keeps, so the commands
        sent on the header's env reach every body run on the env they make, and a body's own
        positions are untouched (unlike a `set_option ... in` prefix)."""
        return "\n".join(
            f"set_option {name} {_value_text(value, quoted=True)}"
            for name, value in sorted(self.lean_options.items())
        )


def _value_text(value: LeanValue, *, quoted: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value) if quoted else value


def load_options(name: str, directory: Path) -> dict[str, LeanValue]:
    """An environment's option set from `OPTIONS_FILE` (empty when absent); `ConfigError` when it
    is not an object of option names to booleans, natural numbers or one-line strings."""
    path = directory / OPTIONS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"environment {name!r}: bad {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"environment {name!r}: {path} must hold a JSON object of Lean options")
    options: dict[str, LeanValue] = {}
    for option, value in data.items():
        where = f"environment {name!r}: option {option!r} in {path}"
        if not _OPTION_NAME.fullmatch(option):
            raise ConfigError(f"{where}: not a Lean option name")
        if option.split(".")[0] in _REFUSED_OPTION_PREFIXES:
            raise ConfigError(f"{where}: `debug.*` and `weak.*` options may not be set")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{where}: a number must be a natural number")
        if isinstance(value, str) and (not value.isprintable() or '"' in value or "\\" in value):
            raise ConfigError(f"{where}: a string must be one printable line without quotes")
        if not isinstance(value, (bool, int, str)):
            raise ConfigError(f"{where}: give true/false, a natural number or a string")
        options[option] = value
    return options


def load_environment(name: str, directory: Path) -> Environment:
    """Read one Lake project's pins; a missing or malformed file is a `ConfigError`."""
    toolchain_file = directory / "lean-toolchain"
    manifest_file = directory / "lake-manifest.json"
    try:
        toolchain = toolchain_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"environment {name!r}: cannot read {toolchain_file}: {exc}") from exc
    packages: dict[str, str] = {}
    input_revs: dict[str, str] = {}
    if manifest_file.exists():
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            for package in manifest.get("packages", []):
                packages[str(package["name"])] = str(package.get("rev", ""))
                if package.get("inputRev"):
                    input_revs[str(package["name"])] = str(package["inputRev"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"environment {name!r}: bad {manifest_file}: {exc}") from exc
    if not toolchain:
        raise ConfigError(f"environment {name!r}: {toolchain_file} is empty")
    return Environment(
        name=name,
        directory=directory,
        toolchain=toolchain,
        packages=packages,
        lean_options=load_options(name, directory),
        input_revs=input_revs,
    )


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
