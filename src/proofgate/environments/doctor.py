"""`proofgate doctor`: what is present, what is missing, and whether the service can verify.

Its `reasons` are exactly what `/readyz` says for a service started with the same settings: both
come from `proofgate.environments.readiness` (the sandbox, the default environment's toolchain,
Mathlib and REPL, and the trusted checker). Every other environment is reported too (its Lean
version, Mathlib commit and readiness, as `GET /v1/environments` says them), but one that is not
set up does not make the machine unready: requests for it are refused while `default` serves.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from dataclasses import asdict, dataclass, field

import psutil

from proofgate.config import Settings
from proofgate.environments.readiness import (
    CHECKER_PATH,
    EnvironmentStatus,
    environment_status,
    lean_needed,
    readiness_reasons,
)
from proofgate.environments.registry import Environment, discover_environments
from proofgate.environments.toolchain import LeanInstall, find_lean
from proofgate.exceptions import ConfigError
from proofgate.sandbox import detect_sandbox

__all__ = ["Check", "Report", "run_doctor"]

_PYTHON_DEPS = ("fastapi", "uvicorn", "httpx", "pydantic", "pydantic-settings", "typer", "rich")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


#: Checks whose failures `reasons` already states in `/readyz`'s words.
_COVERED_BY_REASONS = ("sandbox", "default:")


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    #: What `/readyz` would say, word for word (`readiness.readiness_reasons`).
    reasons: list[str] = field(default_factory=list)
    #: Each environment's own readiness, Lean version and Mathlib commit.
    environments: dict[str, EnvironmentStatus] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """The readiness reasons, then what else is missing (Python packages, other environments)."""
        others = [
            f"{c.name}: {c.detail}"
            for c in self.checks
            if c.required and not c.ok and not c.name.startswith(_COVERED_BY_REASONS)
        ]
        return [*self.reasons, *others]

    def to_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "reasons": list(self.reasons),
            "problems": self.problems,
            "checks": [asdict(check) for check in self.checks],
            "environments": {name: status.to_json() for name, status in self.environments.items()},
        }


def _python_checks() -> list[Check]:
    checks = []
    for dist in _PYTHON_DEPS:
        try:
            checks.append(Check(f"python:{dist}", True, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(f"python:{dist}", False, "not installed: pip install proofgate"))
    try:
        checks.append(
            Check("python:httptools", True, importlib.metadata.version("httptools"), required=False)
        )
    except importlib.metadata.PackageNotFoundError:
        checks.append(
            Check(
                "python:httptools",
                False,
                "not installed: HTTP is parsed by h11 (slower)",
                required=False,
            )
        )
    return checks


def run_doctor(settings: Settings) -> Report:
    """Inspect this machine for everything verification needs."""
    checks = _python_checks()
    elan = shutil.which("elan") or (
        str(settings.elan_home / "bin" / "elan")
        if (settings.elan_home / "bin" / "elan").exists()
        else None
    )
    checks.append(
        Check(
            "elan",
            elan is not None,
            elan or "not found (optional with PROOFGATE_LEAN_HOME)",
            required=False,
        )
    )
    audit = not (settings.checker_command and settings.compile_command)
    reasons: list[str] = []
    try:
        environments = discover_environments(settings)
    except ConfigError as exc:
        checks.append(Check("environments", False, str(exc)))
        environments = {}
    if "default" in environments:
        # What the service decides at start (service.CheckerService._backend_problems).
        reasons = readiness_reasons(
            settings,
            environments["default"],
            repl=settings.repl_command is None,
            audit=audit,
        )
    statuses: dict[str, EnvironmentStatus] = {}
    repl, audit_lean = lean_needed(settings)
    for name, environment in environments.items():
        install = find_lean(settings, environment)
        statuses[name] = environment_status(
            settings, environment, repl=repl, audit=audit_lean, install=install
        )
        checks.extend(_environment_checks(environment, install, audit=audit))
    sandbox = detect_sandbox(settings)
    checks.append(Check("sandbox", sandbox.ok, sandbox.detail))
    cores = os.cpu_count() or 1
    memory = psutil.virtual_memory().total / 2**30
    checks.append(Check("cores", True, str(cores), required=False))
    checks.append(
        Check(
            "memory", memory >= 8, f"{memory:.1f} GiB (a Mathlib worker wants ~6)", required=False
        )
    )
    return Report(checks, reasons, statuses)


def _environment_checks(
    environment: Environment, install: LeanInstall, *, audit: bool
) -> list[Check]:
    """One environment's toolchain, Mathlib, REPL and checker; only `default`'s are required."""
    prefix = f"{environment.name}:"
    required = environment.name == "default"
    checker = environment.directory / CHECKER_PATH
    mathlib = environment.mathlib_commit
    built = "oleans built" if install.mathlib_built else "oleans missing"
    checks = [
        Check(
            prefix + "lean", install.lean is not None, str(install.lean or "not found"), required
        ),
        Check(
            prefix + "lake", install.lake is not None, str(install.lake or "not found"), required
        ),
        Check(
            prefix + "toolchain",
            install.version == install.expected,
            f"found {install.version or 'none'}, pinned {install.expected}",
            required,
        ),
        Check(
            prefix + "mathlib",
            install.mathlib_built or mathlib is None,
            f"{built}, commit {mathlib}" if mathlib else "not a dependency",
            required,
        ),
        Check(
            prefix + "repl",
            install.repl_binary is not None,
            str(install.repl_binary or "binary missing"),
            required,
        ),
        Check(
            prefix + "checker",
            checker.exists(),
            str(checker) if checker.exists() else f"not built ({checker})",
            required=audit and required,
        ),
    ]
    checks.extend(
        Check(prefix + "fix", False, problem, required=False) for problem in install.problems
    )
    return checks
