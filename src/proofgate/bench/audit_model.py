"""The bench's audit model: the service's real `Auditor`, in the real jail, over a SIMULATED Lean.

A deployed `/v1/check` ends every REPL-clean request with three jailed processes (the locked
statement's compile and the submission's, side by side, then the trusted checker). `proofgate bench` runs that
same `Auditor`, with its default commands (`lake env lean ...`, `lake env
PROJECT/.lake/build/bin/proofgate-checker ...`) and the spawner the service selects
(`proofgate.sandbox.select_spawner`), over the programs of `proofgate.bench.simulated_lean`
installed where a toolchain would be. What each process costs, by default:

- its start: what the platform charges for it (the jail, the launcher, an interpreter's start);
- its import: a sleep of the simulated REPL's header import time (2.0 s unless set);
- the submission's elaboration: the simulated REPL's check time for the same item;
- the checker's replay: 5 ms of CPU for each declaration of the submission.

By default every request of the bench states a new theorem, so the reference compile is never a
cache hit: the worst case of a real workload, where many proofs of one statement share its
reference. `--statement-group N` sends each statement N times in a row (a reward group's
completions), so one audit in N compiles the reference (`reference_share` = 1/N).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from proofgate.exceptions import ConfigError

__all__ = ["AuditModel", "install_toolchain", "jail_python"]

PROGRAM = Path(__file__).with_name("simulated_lean.py")
#: Where the default checker command looks for the checker (`proofgate.verify.audit`).
CHECKER = Path(".lake/build/bin/proofgate-checker")
#: And the warm audit's exporter (`proofgate.verify.warm_audit`).
EXPORTER = Path(".lake/build/bin/proofgate-export")
#: And the zygote's (`PROOFGATE_AUDIT_COMPILER=zygote`: `proofgate-elab --zygote`).
ELAB = Path(".lake/build/bin/proofgate-elab")
ZYGOTE_PROGRAM = Path(__file__).with_name("simulated_zygote.py")
#: Processes of one audit that import the environment: the statement's compile (uncached here),
#: the submission's compile and the checker.
IMPORTS_PER_AUDIT = 3
#: `lake env CMD ARGS...` runs CMD; any other use of the simulated lake is refused.
LAKE = """#!/bin/sh
# lake (SIMULATED, proofgate bench): only `lake env CMD ARGS...` is modelled.
if [ "$1" != env ]; then echo "lake (simulated): only 'lake env' is modelled" >&2; exit 2; fi
shift
exec "$@"
"""


@dataclass(frozen=True)
class AuditModel:
    """What the modelled audit costs; `enabled=False` runs the audit-off side only."""

    enabled: bool = True
    import_seconds: float | None = None  # None: the simulated REPL's header import time
    elaboration_factor: float = 1.0  # times the REPL's check time of the same item
    replay_ms_per_declaration: float = 5.0
    jail: Literal["auto", "bwrap", "none"] = "auto"  # the service's `sandbox` setting
    #: The service's `audit_checker`: a checker process a check (`oneshot`), or warm checkers
    #: that import once, after an exporter process per compile (`warm`).
    checker: Literal["oneshot", "warm"] = "oneshot"
    #: The service's `audit_compiler`: a compile process a check (`lean`), or a child forked from
    #: a zygote that imported the header once, whose reply is the feedback too (`zygote`: no
    #: REPL worker serves `/v1/check`, the checkers are warm ones).
    compiler: Literal["lean", "zygote"] = "lean"

    def import_for(self, repl_import_seconds: float) -> float:
        return repl_import_seconds if self.import_seconds is None else self.import_seconds

    def imports_per_audit(self, reference_share: float = 1.0) -> float:
        """Imports in one audit (a mean): the submission's compile, the checker's unless it is a
        warm one, and the statement's compile in the `reference_share` of audits whose
        reference is not cached yet. None with zygotes: their children fork an imported one."""
        if self.compiler == "zygote":
            return 0.0
        return IMPORTS_PER_AUDIT - 1 - (self.checker == "warm") + reference_share

    def service_settings(self) -> dict[str, str]:
        """The service's audit settings this model runs (zygotes need the warm checkers)."""
        if self.compiler == "zygote":
            return {"audit_checker": "warm", "audit_compiler": "zygote"}
        return {"audit_checker": self.checker}

    def seconds(self, check_seconds: float, repl_import_seconds: float, declarations: int) -> float:
        """The modelled time one audit adds, process starts left out (the platform's to add). The
        statement's compile, where its reference is not cached, runs beside the submission's and
        has no proof to elaborate: it adds a process, not time. With zygotes the child's
        elaboration is the check itself (no REPL worker elaborates it first): only the replay is
        added."""
        if self.compiler == "zygote":
            return declarations * self.replay_ms_per_declaration / 1000
        return (
            self.imports_per_audit(reference_share=0) * self.import_for(repl_import_seconds)
            + self.elaboration_factor * check_seconds
            + declarations * self.replay_ms_per_declaration / 1000
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditModel:
        return cls(**data)

    def describe(self, repl_import_seconds: float, reference_share: float = 1.0) -> dict[str, Any]:
        return {
            "model": "on (default)" if self.enabled else "off",
            "auditor": "proofgate.verify.audit.Auditor with its default commands, "
            "over a SIMULATED lean/lake/proofgate-checker (proofgate.bench.simulated_lean)",
            "jail": self.jail,
            "checker": self.service_settings()["audit_checker"],  # zygotes run warm checkers
            # warm: the compiles, each with its exporter in its jail; the checker runs already
            "compiler": self.compiler,
            "jailed_runs_per_audit": 0
            if self.compiler == "zygote"  # forks of a jailed zygote, the REPL's work done once
            else round(
                reference_share + (1 if self.checker == "warm" else IMPORTS_PER_AUDIT - 1), 3
            ),
            "imports_per_audit": round(self.imports_per_audit(reference_share), 3),
            "reference_compiled_in": f"{reference_share:.3g} of audits (the rest hit its cache)",
            "import_seconds_each": self.import_for(repl_import_seconds),
            "elaboration": f"{self.elaboration_factor:g} x the item's REPL check time (a sleep)",
            "replay_cpu_ms_per_declaration": self.replay_ms_per_declaration,
            "off_side": "a simulated ok at 0 s that starts no process",
        }


def jail_python() -> Path:
    """A Python the jail can run: under /usr (which the jail mounts read-only), this one first."""
    candidates = [Path(os.path.realpath(sys.executable))]
    candidates += [Path(os.path.realpath(found)) for found in [shutil.which("python3")] if found]
    candidates += [Path("/usr/bin/python3"), Path("/usr/local/bin/python3")]
    for candidate in candidates:
        if candidate.is_relative_to("/usr") and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError(
        "the bench's audit model needs a python3 under /usr to run inside the jail: install one, "
        "or run the audit unjailed with --audit-jail none"
    )


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install_toolchain(
    elan_home: Path,
    project: Path,
    model: AuditModel,
    *,
    repl_import_seconds: float,
    lean_version: str,
    python: Path | None = None,
) -> None:
    """`ELAN_HOME/bin/{lake,lean}` and `PROJECT/.lake/build/bin/proofgate-{checker,export,elab}`,
    simulated."""
    interpreter = python or jail_python()
    program = f"#!{interpreter} -IS\n" + PROGRAM.read_text("utf-8")
    config = {
        "import_seconds": model.import_for(repl_import_seconds),
        "elaboration_factor": model.elaboration_factor,
        "replay_ms_per_declaration": model.replay_ms_per_declaration,
        "lean_version": lean_version,
    }
    for path in (elan_home / "bin" / "lean", project / CHECKER, project / EXPORTER):
        _executable(path, program)
        (path.parent / "simulated-lean.json").write_text(json.dumps(config), "utf-8")
    _executable(elan_home / "bin" / "lake", LAKE)
    # the zygote, beside the copy of simulated_lean.py it imports
    _executable(project / ELAB, f"#!{interpreter} -IS\n" + ZYGOTE_PROGRAM.read_text("utf-8"))
    (project / ELAB).with_name("simulated_lean.py").write_text(PROGRAM.read_text("utf-8"))
