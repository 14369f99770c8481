"""Stand-in for the toolchain's `leanchecker` (Lean's `src/LeanChecker.lean`, shipped since v4.28).

Run as `leanchecker.py SCENARIO.json <leanchecker's argv>`. The command line and exit codes are
the real program's, as read from its source (not run):
- arguments starting with `-` are flags (`--fresh`, `-v`/`--verbose`; `--export FILE` is a mode
  proofgate never uses and is refused here); the others are module names;
- no module: the current package's (`lake-manifest.json`'s name, capitalized); none found there:
  the anonymous name;
- each module is looked up among the `.olean` files of the search path (`LEAN_PATH`, as `lake env`
  extends it): without `--fresh` every module the name is a prefix of (name components, not
  characters), with `--fresh` exactly that one; none: `uncaught exception: Could not find any
  oleans for: M` on stderr, exit 1 (Lean's runtime ends a `main` that throws that way);
- each found module is "replayed": a record the stand-in compiler marked `kernel` (a kernel
  refusal) prints `leanchecker found a problem in M` and `uncaught exception: (kernel) TEXT` on
  stderr, exit 1; otherwise exit 0 with nothing on stdout (`-v`: `replaying M`).
It reads the record as written and never rebuilds it, as the real one loads the same file's
objects without rebuilding them: a tampered record (compiler.py's `tamper-*`) passes here.

The scenario (JSON) may set `argv_log` (the argv, `LEAN_PATH` and the working directory are
written there) and `mode`: `replay` (default), `refuse TEXT` (as a kernel refusal), `kill`
(SIGKILL), `hang` (sleeps).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from compiler import OLEAN_MARKER  # type: ignore[import-not-found]  # run as a script


def fail(message: str) -> int:
    print(f"uncaught exception: {message}", file=sys.stderr)
    return 1


def module_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def is_prefix(prefix: str, name: str) -> bool:
    want, have = prefix.split("."), name.split(".")
    return have[: len(want)] == want


def current_module(cwd: Path) -> str:
    manifest = cwd / "lake-manifest.json"
    try:
        name = str(json.loads(manifest.read_text(encoding="utf-8"))["name"])
    except (OSError, ValueError, KeyError):
        return "[anonymous]"
    return name[:1].upper() + name[1:]


def main(argv: list[str]) -> int:
    scenario = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    args = argv[1:]
    flags = [a for a in args if a.startswith("-")]
    names = [a for a in args if not a.startswith("-")]
    search = [Path(p) for p in os.environ.get("LEAN_PATH", "").split(os.pathsep) if p]
    if log := scenario.get("argv_log"):
        Path(log).write_text(
            json.dumps({"argv": args, "lean_path": [str(p) for p in search], "cwd": os.getcwd()}),
            encoding="utf-8",
        )
    if "--export" in flags:
        return fail("the --export mode is not modelled by the stand-in")
    fresh = "--fresh" in flags
    verbose = "-v" in flags or "--verbose" in flags
    targets = names or [current_module(Path.cwd())]
    found: dict[str, Path] = {}
    for target in targets:
        hits = {
            module_of(path, root): path
            for root in search
            if root.is_dir()
            for path in root.rglob("*.olean")
            if (module := module_of(path, root)) == target
            or (not fresh and is_prefix(target, module))
        }
        if not hits:
            return fail(f"Could not find any oleans for: {target}")
        found.update(hits)
    if fresh and len(found) != 1:
        return fail(f"--fresh flag is only valid when specifying a single module:\n{sorted(found)}")
    mode, _, text = str(scenario.get("mode", "replay")).partition(" ")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(3600)
    for module, path in sorted(found.items()):
        if verbose:
            print(f"replaying {module}")
        data = path.read_bytes()
        if not data.startswith(OLEAN_MARKER):
            return fail(f"failed to read file '{path}', invalid header")
        kernel = json.loads(data[len(OLEAN_MARKER) :]).get("kernel")
        refusal = text if mode == "refuse" else kernel
        if refusal:
            print(f"leanchecker found a problem in {module}", file=sys.stderr)
            return fail(f"(kernel) {refusal}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
