"""Why this machine cannot verify: the one list of reasons `/readyz` and `proofgate doctor` give.

Each reason says how to fix it. The sandbox's reason is `select_spawner`'s refusal; the Lean side's
are the toolchain, Mathlib and REPL problems of `find_lean` plus the trusted checker, which only the
audit needs (a service given its own compile and checker commands does not).
"""

from __future__ import annotations

from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.environments.toolchain import find_lean
from proofgate.exceptions import SandboxUnavailable
from proofgate.sandbox import select_spawner

__all__ = [
    "CHECKER_PATH",
    "EXPORTER_PATH",
    "checker_problem",
    "exporter_problem",
    "lean_problems",
    "readiness_reasons",
    "sandbox_problems",
]

#: The trusted checker under an environment's directory (`lake build proofgate-checker`).
CHECKER_PATH = Path(".lake") / "build" / "bin" / "proofgate-checker"
#: The exporter of the warm audit (`lake build proofgate-export`).
EXPORTER_PATH = Path(".lake") / "build" / "bin" / "proofgate-export"


def checker_problem(environment: Environment) -> str | None:
    checker = environment.directory / CHECKER_PATH
    if checker.exists():
        return None
    return f"trusted checker not built ({checker}): run `proofgate setup`"


def exporter_problem(environment: Environment) -> str | None:
    exporter = environment.directory / EXPORTER_PATH
    if exporter.exists():
        return None
    return f"exporter not built ({exporter}): run `proofgate setup` (PROOFGATE_AUDIT_CHECKER=warm)"


def lean_problems(settings: Settings, environment: Environment, *, audit: bool = True) -> list[str]:
    """The toolchain, Mathlib, the REPL and (for the audit) the trusted checker, and the
    exporter when the audit's checkers are warm ones."""
    problems = list(find_lean(settings, environment).problems)
    if audit and (problem := checker_problem(environment)) is not None:
        problems.append(problem)
    warm = settings.audit_checker == "warm" and settings.export_command is None
    if audit and warm and (problem := exporter_problem(environment)) is not None:
        problems.append(problem)
    return problems


def sandbox_problems(settings: Settings) -> list[str]:
    """Empty when a spawner is available (the jail, or the explicit opt-out)."""
    try:
        select_spawner(settings)
    except SandboxUnavailable as exc:
        return [exc.reason]
    return []


def readiness_reasons(
    settings: Settings, environment: Environment, *, repl: bool = True, audit: bool = True
) -> list[str]:
    """What `/readyz` says for a service on `environment` that needs Lean for `repl`/`audit`."""
    reasons = sandbox_problems(settings)
    if repl or audit:
        reasons += lean_problems(settings, environment, audit=audit)
    return reasons
