"""Why this machine cannot verify: the one list of reasons `/readyz` and `proofgate doctor` give.

Each reason says how to fix it. The sandbox's reason is `select_spawner`'s refusal; the Lean side's
are the toolchain, Mathlib and REPL problems of `find_lean` plus the trusted checker, which only the
audit needs (a service given its own compile and checker commands does not).

Every environment has its own readiness (`environment_status`): a request for one that is not
ready is refused naming it, while the others serve; `/readyz` follows `default` and lists the rest.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.environments.toolchain import LeanInstall, find_lean
from proofgate.exceptions import SandboxUnavailable
from proofgate.sandbox import select_spawner

__all__ = [
    "CHECKER_PATH",
    "ELAB_PATH",
    "EXPORTER_PATH",
    "EnvironmentStatus",
    "StatusCache",
    "audit_programs",
    "checker_era",
    "checker_problem",
    "elab_problem",
    "environment_status",
    "exporter_problem",
    "has_checker_target",
    "has_elab_target",
    "has_exporter_target",
    "lakefile_checker_era",
    "lean_needed",
    "lean_problems",
    "readiness_reasons",
    "sandbox_problems",
]

#: The trusted checker's Lake target, and where it is built under an environment's directory.
CHECKER_TARGET = "proofgate-checker"
CHECKER_PATH = Path(".lake") / "build" / "bin" / CHECKER_TARGET
#: The exporter of the warm audit (`lake build proofgate-export`).
EXPORTER_PATH = Path(".lake") / "build" / "bin" / "proofgate-export"
#: The one-shot elaborator (`lake build proofgate-elab`), for PROOFGATE_AUDIT_COMPILER=elab.
ELAB_PATH = Path(".lake") / "build" / "bin" / "proofgate-elab"


def _lakefile_text(environment: Environment) -> str | None:
    try:
        return (environment.directory / "lakefile.lean").read_text("utf-8")
    except OSError:
        return None  # no lakefile to read (not a Lake project yet)


def _declares(environment: Environment, word: str) -> bool:
    """Whether the environment's lakefile names `word`; the root project, and a project with no
    lakefile to read, count as naming it."""
    if environment.name == "default":
        return True
    text = _lakefile_text(environment)
    return text is None or word in text


def has_checker_target(environment: Environment) -> bool:
    """Whether the environment's Lake project declares the trusted checker (the root project and
    the version presets do; a project of one's own may not)."""
    return _declares(environment, CHECKER_TARGET)


def has_exporter_target(environment: Environment) -> bool:
    """Whether the project declares the warm audit's exporter: the root project does; a preset's
    checker serves contract 1 only (its export reader is written for v4.30 on), so it does not."""
    return _declares(environment, EXPORTER_PATH.name)


#: Each checker API era module (`Proofgate/Eras/<era>/`) and the Lean minor versions it serves:
#: only those whose sources were read for it (docs/checker-contract.md, "API eras").
_ERAS = (("v4_9", 9, 9), ("v4_15", 15, 15), ("v4_19", 19, 29), ("v4_30", 30, None))
_ERA_DIRECTORY = re.compile(r"Proofgate/Eras/(v4_[0-9]+)")


def checker_era(lean_version: str) -> str | None:
    """The API era whose module the checker needs on `lean_version` (`v4.9.0-rc1` -> `v4_9`),
    or None when no era module serves it."""
    found = re.match(r"v?4\.([0-9]+)\.", lean_version)
    if found is None:
        return None
    minor = int(found.group(1))
    for era, low, high in _ERAS:
        if low <= minor and (high is None or minor <= high):
            return era
    return None


def lakefile_checker_era(environment: Environment) -> str | None:
    """The era module the environment's lakefile builds its checker with, if it names one."""
    text = _lakefile_text(environment)
    found = _ERA_DIRECTORY.search(text) if text is not None else None
    return found.group(1) if found else None


def _unbuilt(environment: Environment, built: Path, what: str, note: str = "") -> str | None:
    """None when `what` is built (at `built` under the environment's directory), else the reason
    to run setup."""
    path = environment.directory / built
    if path.exists():
        return None
    return f"{what} not built ({path}): run `proofgate setup`{note}"


def checker_problem(environment: Environment) -> str | None:
    if not has_checker_target(environment):
        return (
            f"no trusted checker for Lean {environment.lean_version} yet (its project declares "
            f"no {CHECKER_TARGET}): checks in {environment.name!r} cannot be proved; setup "
            "cannot fix this"
        )
    built_with, needed = lakefile_checker_era(environment), checker_era(environment.lean_version)
    if built_with is not None and built_with != needed:
        # A checker of another era would not even build; one built anyway could not read this
        # toolchain's .olean files ("incompatible header").
        return (
            f"the trusted checker of {environment.name!r} is built with the API era module "
            f"{built_with}, but Lean {environment.lean_version} needs "
            f"{needed or 'one that does not exist yet'}: fix its lakefile.lean"
        )
    return _unbuilt(environment, CHECKER_PATH, "trusted checker")


def has_elab_target(environment: Environment) -> bool:
    """Whether the project declares the one-shot elaborator: the root project does; the presets
    do not yet."""
    return _declares(environment, ELAB_PATH.name)


def audit_programs(settings: Settings, environment: Environment) -> list[Path]:
    """What the audit runs beside the trusted checker that `proofgate setup` builds here, as the
    settings ask and the project declares: the elaborator for `audit_compiler=elab` or `zygote`
    (one-shot, or as the zygote: it writes its own exports), else the exporter for warm
    checkers."""
    if settings.audit_compiler in ("elab", "zygote"):
        return [ELAB_PATH] if has_elab_target(environment) else []
    if settings.audit_checker == "warm" and has_exporter_target(environment):
        return [EXPORTER_PATH]
    return []


def elab_problem(environment: Environment, compiler: str = "elab") -> str | None:
    if not has_elab_target(environment):
        return (
            f"PROOFGATE_AUDIT_COMPILER={compiler} has no proofgate-elab for Lean "
            f"{environment.lean_version}: {environment.name!r} does not build one; setup cannot "
            "fix this"
        )
    return _unbuilt(
        environment, ELAB_PATH, "proofgate-elab", f" (PROOFGATE_AUDIT_COMPILER={compiler})"
    )


def exporter_problem(environment: Environment) -> str | None:
    if not has_exporter_target(environment):
        return (
            f"the warm audit (PROOFGATE_AUDIT_CHECKER=warm) has no exporter for Lean "
            f"{environment.lean_version}: {environment.name!r} builds the one-shot checker only; "
            "setup cannot fix this"
        )
    return _unbuilt(environment, EXPORTER_PATH, "exporter", " (PROOFGATE_AUDIT_CHECKER=warm)")


def lean_problems(
    settings: Settings,
    environment: Environment,
    *,
    audit: bool = True,
    install: LeanInstall | None = None,
) -> list[str]:
    """The toolchain, Mathlib, the REPL and (for the audit) the trusted checker, and the
    exporter when the audit's checkers are warm ones, or the one-shot elaborator when it
    compiles (each unless a command of the settings replaces it). `install`: `find_lean`'s, when
    known."""
    if install is None:
        install = find_lean(settings, environment)
    problems = list(install.problems)
    if audit and (problem := checker_problem(environment)) is not None:
        problems.append(problem)
    if not audit:
        return problems
    problem = None
    if settings.audit_compiler == "elab":  # it writes the exports: no exporter is run
        problem = elab_problem(environment) if settings.elab_command is None else None
    elif settings.audit_compiler == "zygote":  # the zygote is proofgate-elab --zygote
        problem = elab_problem(environment, "zygote") if settings.zygote_command is None else None
    elif settings.audit_checker == "warm" and settings.export_command is None:
        problem = exporter_problem(environment)
    return problems if problem is None else [*problems, problem]


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


def lean_needed(settings: Settings) -> tuple[bool, bool]:
    """(repl, audit): whether the REPL and the audit run Lean of the environment's own, or
    commands the settings give instead (`repl_command`; `checker_command` with `compile_command`)."""
    repl = settings.repl_command is None
    audit = not (settings.checker_command and settings.compile_command)
    return repl, audit


@dataclass(frozen=True)
class EnvironmentStatus:
    """One environment's readiness: what `GET /v1/environments`, `/readyz` and `doctor` report."""

    name: str
    ready: bool
    lean: str  # pinned, from its `lean-toolchain`
    lean_found: str | None  # what the toolchain found prints, if one was found
    mathlib: str | None  # the Mathlib commit its manifest pins
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "lean": self.lean,
            "lean_found": self.lean_found,
            "mathlib": self.mathlib,
            "problems": list(self.problems),
        }


def environment_status(
    settings: Settings,
    environment: Environment,
    *,
    repl: bool = True,
    audit: bool = True,
    install: LeanInstall | None = None,
) -> EnvironmentStatus:
    """Whether `environment`'s own Lean side is there (the sandbox is the service's, not asked)."""
    if install is None:
        install = find_lean(settings, environment)
    problems = (
        lean_problems(settings, environment, audit=audit, install=install) if repl or audit else []
    )
    return EnvironmentStatus(
        name=environment.name,
        ready=not problems,
        lean=environment.lean_version,
        lean_found=install.version,
        mathlib=environment.mathlib_commit,
        problems=tuple(problems),
    )


class StatusCache:
    """Each environment's status, looked at again after `ttl` seconds: a probe or a listing must
    not run every toolchain's `lean --version` each time it is asked. Thread-safe (read from
    worker threads)."""

    def __init__(self, settings: Settings, *, ttl: float = 30.0) -> None:
        self._settings = settings
        self._ttl = ttl
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, Environment, EnvironmentStatus]] = {}

    def statuses(self, environments: Mapping[str, Environment]) -> dict[str, EnvironmentStatus]:
        repl, audit = lean_needed(self._settings)
        now = time.monotonic()
        found: dict[str, EnvironmentStatus] = {}
        for name, environment in environments.items():
            with self._lock:
                seen = self._seen.get(name)
            if seen is None or seen[1] != environment or now - seen[0] > self._ttl:
                status = environment_status(self._settings, environment, repl=repl, audit=audit)
                with self._lock:
                    self._seen[name] = (now, environment, status)
            else:
                status = seen[2]
            found[name] = status
        return found
