"""`proofgate doctor`: what is present, what is missing, and whether the service can verify.

Its `reasons` are exactly what `/readyz` says for a service started with the same settings: both
come from `proofgate.environments.readiness` (the sandbox, the default environment's toolchain,
Mathlib and REPL, and the trusted checker).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from dataclasses import asdict, dataclass, field

import psutil

from proofgate.config import Settings
from proofgate.environments.readiness import CHECKER_PATH, readiness_reasons
from proofgate.environments.registry import discover_environments
from proofgate.environments.toolchain import find_lean
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
    for name, environment in environments.items():
        install = find_lean(settings, environment)
        prefix = f"{name}:"
        checks.append(
            Check(prefix + "lean", install.lean is not None, str(install.lean or "not found"))
        )
        checks.append(
            Check(prefix + "lake", install.lake is not None, str(install.lake or "not found"))
        )
        checks.append(
            Check(
                prefix + "toolchain",
                install.version == install.expected,
                f"found {install.version or 'none'}, pinned {install.expected}",
            )
        )
        checks.append(
            Check(
                prefix + "mathlib",
                install.mathlib_built,
                "oleans built" if install.mathlib_built else "oleans missing",
            )
        )
        checks.append(
            Check(
                prefix + "repl",
                install.repl_binary is not None,
                str(install.repl_binary or "binary missing"),
            )
        )
        checker = environment.directory / CHECKER_PATH
        checks.append(
            Check(
                prefix + "checker",
                checker.exists(),
                str(checker) if checker.exists() else f"not built ({checker})",
                required=audit,
            )
        )
        for problem in install.problems:
            checks.append(Check(prefix + "fix", False, problem, required=False))
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
    return Report(checks, reasons)
