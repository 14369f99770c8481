"""Stand-in Lean installs of several versions side by side, for the multi-environment tests.

Each environment gets a Lake project (`lean-toolchain`, `lake-manifest.json`) and a toolchain
home of its own: a `lean` that prints its version and otherwise compiles as the stand-in compiler
(tests/standins/compiler.py), stamping its version into the record as Lean stamps an .olean's
header; a `lake` whose `lake env CMD...` runs CMD (as Lake's does), and the built pieces readiness
looks for. Its REPL binary is a script running the stand-in REPL (tests/standins/repl.py) with the
options given, so the real launcher, the real version check and the real pool serve it. Given a
scenario, its `proofgate-checker` is the stand-in checker "built" with its own Lean (or another,
`checker_built_for`), which reads only records that Lean compiled. No Lean runs.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from proofgate.bench.simulated_repl import SCRIPT
from tests.standins.repl import standin_options

STANDINS = Path(__file__).resolve().parents[1] / "standins"

__all__ = ["FakeEnvironment", "fake_environment", "fake_toolchain"]

_LAKE = """#!/bin/sh
# `lake env CMD ARGS...` runs CMD, as Lake does once the environment's paths are set.
if [ "$1" = env ]; then shift; exec "$@"; fi
exit 0
"""


@dataclass(frozen=True)
class FakeEnvironment:
    name: str
    directory: Path  # the Lake project
    home: Path  # its toolchain home: bin/lean, bin/lake
    version: str  # `v4.9.0`


def fake_toolchain(home: Path, version: str) -> Path:
    """`home/bin/lean` printing `version` (`v4.9.0`) as Lean does, and a `lake`."""
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    number = version.removeprefix("v")
    compiler = shlex.join([sys.executable, str(STANDINS / "compiler.py")])
    (bin_dir / "lean").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then\n'
        f"  echo 'Lean (version {number}, x86_64-unknown-linux-gnu, Release)'\n"
        "  exit 0\n"
        "fi\n"
        f'STANDIN_LEAN_VERSION={shlex.quote(version)} exec {compiler} "$@"\n'
    )
    (bin_dir / "lake").write_text(_LAKE)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return home


def fake_environment(
    project: Path,
    name: str,
    version: str,
    *,
    homes: Path,
    repl_rev: str | None = None,  # the REPL tag its manifest names (default: `version`)
    mathlib_rev: str = "0" * 40,
    installed: bool = True,
    repl_options: tuple[str, ...] = (),
    checker_scenario: Path | None = None,  # its checker: the stand-in acting this out
    checker_built_for: str | None = None,  # the Lean that checker was built with (`version`)
) -> FakeEnvironment:
    """The environment `name` of the root project `project` (`default` is the root itself), pinned
    to Lean `version`, with its toolchain under `homes/name` when `installed`. Without a
    `checker_scenario` its checker is an empty file (present, never run)."""
    directory = project if name == "default" else project / "LeanProjects" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lean-toolchain").write_text(f"leanprover/lean4:{version}\n")
    manifest = {
        "version": 7,
        "packages": [
            {"name": "mathlib", "rev": mathlib_rev, "type": "git"},
            {"name": "REPL", "rev": "1" * 40, "inputRev": repl_rev or version, "type": "git"},
        ],
    }
    (directory / "lake-manifest.json").write_text(json.dumps(manifest))
    home = homes / name
    if installed:
        fake_toolchain(home, version)
        packages = directory / ".lake" / "packages"
        olean = packages / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
        olean.parent.mkdir(parents=True, exist_ok=True)
        olean.write_text("")
        repl = packages / "REPL" / ".lake" / "build" / "bin" / "repl"
        repl.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, SCRIPT, *standin_options(*repl_options)]
        repl.write_text(f"#!/bin/sh\nexec {shlex.join(argv)}\n")
        repl.chmod(0o755)
        checker = directory / ".lake" / "build" / "bin" / "proofgate-checker"
        checker.parent.mkdir(parents=True, exist_ok=True)
        checker.write_text("")
        if checker_scenario is not None:
            built_for = shlex.quote(checker_built_for or version)
            run = shlex.join([sys.executable, str(STANDINS / "checker.py"), str(checker_scenario)])
            checker.write_text(f'#!/bin/sh\nSTANDIN_CHECKER_LEAN={built_for} exec {run} "$@"\n')
            checker.chmod(0o755)
    return FakeEnvironment(name, directory, home, version)
