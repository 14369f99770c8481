"""Stand-in for `proofgate-checker`: judges the stand-in compiler's records, after checking its argv.

Run as `checker.py SCENARIO.json <the real checker's argv>`. It parses the argv exactly as the real
checker does (docs/checker-contract.md), requires the .olean files to come from the stand-in
compiler, logs its argv to `argv_log` when the scenario names one, then acts out `mode`:

- `report` (default): one contract object, judged as the real checker judges, from what the
  compiler recorded (compiler.py):
  - the rebuild (issue 20, defect 2): a declaration holding a literal whose text is not a
    canonical numeral is refused before anything else (`replay_failed`, "malformed term"), and
    every hash a comparison uses is recomputed from the recorded statement, never read from the
    record (a rewritten `.olean` may lie about it); a record marked `kernel` is refused as the
    kernel refuses (`replay_failed`);
  - a locked check: the submission must declare `--target` (`target_missing`), as a theorem
    (`not_a_theorem`), stating what the challenge's target states: the hash of its statement text
    must be the challenge's (`type_mismatch`); every declaration of the challenge the target's
    statement uses must be in the submission under the same name, with the same text (an answer
    hole: the same statement) (`statement_constant_changed`). A `private` helper's name carries
    its module's name, so it matches only when both files were compiled as the same module.
  - the declarations: in a locked check only those in the target's closure (the target and the
    submission's declarations its text reaches, transitively; issue 20, defect 4), in a free
    compile all of them;
  - the axioms: those the source's `-- standin-axioms:` marker names (the target's, and every
    theorem's in a free compile), `["propext"]` without a marker; `axioms` in the scenario
    replaces both. `disallowed_axioms` is judged against the `--axiom` list, every answer hole is
    answered `"42"`. `report` in the scenario overrides fields of the result.
- `raw`: print `stdout` verbatim and exit with `exit` (default 0).
- `crash`: a message on stderr and exit 3. `hang`: sleep. `abort`: SIGABRT, as a Lean panic does
  under LEAN_ABORT_ON_PANIC. `kill`: SIGKILL, as an outside kill does; `kill-once FLAG`: only while
  FLAG does not exist (it is created), so a retry on a fresh process concludes.
- `two`: two valid reports. `garbage`: text that is no JSON.

Built for one Lean (`STANDIN_CHECKER_LEAN`, set by the checker a stand-in environment "built",
tests/environments/toolchains.py), it reports that Lean in `lean` and reads only records stamped
with it: a record another toolchain compiled is refused as Lean's `readModuleData` refuses an
.olean of another version or githash (Lean's C++ .olean reader: "failed to read file 'PATH',
incompatible header"), which the real checker turns into `bad_input` ("cannot read PATH:
..."; Proofgate/OleanCheck.lean, `readOlean`). Without the variable any record is read and `lean`
is `v4.32.0`, as before.

With `--submission-export` in the argv it is the export-reading checker of contract 2 instead
(export_checker.py: the collision table against `simulated-imports.json`); `report` in the
scenario still overrides fields. With `--serve` it is the warm checker (export_checker.py's serve
mode), as `proofgate-checker --serve` is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import export_checker  # type: ignore[import-not-found]  # run as a script
from compiler import (  # type: ignore[import-not-found]  # run as a script
    OLEAN_MARKER,
    simulated_lean,
)

CONTRACT = 1
#: The Lean a per-environment stand-in checker was "built" with (unset: no build modelled).
BUILT_FOR_VARIABLE = "STANDIN_CHECKER_LEAN"
CANONICAL_NUMERAL = re.compile(r"0|[1-9][0-9]*")


def rebuilt_hash(declaration: dict[str, Any]) -> str:
    """The statement's hash recomputed from the statement itself (the real checker rebuilds each
    term and recomputes its cached data), never the hash the record claims."""
    return hashlib.sha256(str(declaration["statement"]).encode()).hexdigest()


def malformed(compiled: dict[str, Any]) -> tuple[str, str] | None:
    """(declaration, why) for the first literal that is no canonical numeral."""
    for declaration in compiled["declarations"]:
        for literal in declaration.get("literals", []):
            if not CANONICAL_NUMERAL.fullmatch(literal):
                why = f"a literal is a natural number that prints as {json.dumps(literal)}"
                return declaration["name"], f"{why}, not a canonical numeral"
    return None


def closure(compiled: dict[str, Any], target: str) -> set[str]:
    """The submission's declarations the target reaches through the identifiers it mentions."""
    by_name = {d["name"]: d for d in compiled["declarations"]}
    short = {d["name"].rsplit(".", 1)[-1]: d["name"] for d in compiled["declarations"]}
    found: set[str] = set()
    todo = [target] if target in by_name else []
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for used in by_name[name].get("mentions", []):
            other = used if used in by_name else short.get(used)
            if other is not None and other not in found:
                todo.append(other)
    return found


def parse(argv: list[str]) -> argparse.Namespace:
    parser = simulated_lean.checker_parser("proofgate-checker (stand-in)")
    args = simulated_lean.checker_args(parser, argv)
    args.compiled = read_olean(parser, args.submission)
    args.challenge_compiled = read_olean(parser, args.challenge) if args.challenge else None
    return args


def foreign_olean(args: argparse.Namespace) -> str | None:
    """The first file compiled by another Lean than the one this checker was built with, as the
    message `readModuleData` raises for it; None when both are this checker's own."""
    built_for = os.environ.get(BUILT_FOR_VARIABLE)
    if built_for is None:
        return None
    for path, compiled in (
        (args.submission, args.compiled),
        (args.challenge, args.challenge_compiled),
    ):
        if compiled is not None and compiled.get("lean") != built_for:
            return f"failed to read file '{path}', incompatible header"
    return None


def read_olean(parser: argparse.ArgumentParser, path: str) -> dict[str, Any]:
    data = Path(path).read_bytes()
    if not data.startswith(OLEAN_MARKER):
        parser.error(f"{path} is not an .olean from the stand-in compiler")
    compiled: dict[str, Any] = json.loads(data[len(OLEAN_MARKER) :])
    return compiled


def statement_problem(args: argparse.Namespace) -> tuple[str, str, str] | None:
    """(outcome, declaration, detail) when the submission does not prove the locked statement."""
    target = args.target
    submitted = {d["name"]: d for d in args.compiled["declarations"]}
    locked = {d["name"]: d for d in args.challenge_compiled["declarations"]}
    mine = submitted.get(target)
    if mine is None:
        return "target_missing", target, f"the submission declares no {target}"
    if mine["kind"] != "theorem":
        return "not_a_theorem", target, f"{target} is a {mine['kind']}, not a theorem"
    theirs = locked.get(target)
    if theirs is None or theirs["kind"] != "theorem":
        return "bad_input", target, f"the challenge has no theorem {target}"
    if rebuilt_hash(mine) != rebuilt_hash(theirs):
        return "type_mismatch", target, f"{target} does not state the locked statement"
    uses = set(theirs["uses"])
    for name, declaration in locked.items():
        declared = name.rsplit(".", 1)[-1]
        if name == target or not ({name, declared} & uses):
            continue
        other = submitted.get(name)
        if other is None:
            return "statement_constant_changed", name, f"{name}: the submission does not declare it"
        if name in args.holes:
            same = rebuilt_hash(other) == rebuilt_hash(declaration)
        else:
            same = other["text_sha256"] == declaration["text_sha256"]
        if other["kind"] != declaration["kind"] or not same:
            return "statement_constant_changed", name, f"{name}: the {declaration['kind']} changed"
    return None


def judged_report(args: argparse.Namespace, axioms: list[str] | None) -> dict[str, object]:
    """What the real checker would conclude from the compiler's records."""
    if axioms is None:
        axioms = args.compiled.get("axioms")
    if axioms is None:
        axioms = ["propext"]
    allowed = set(args.axiom)
    declarations = [
        {
            "name": d["name"],
            "kind": d["kind"],
            "axioms": sorted(axioms) if d["kind"] == "theorem" else [],
            "replayed": True,
        }
        for d in args.compiled["declarations"]
    ]
    report: dict[str, object] = {
        "contract": CONTRACT,
        "checker": "proofgate-checker stand-in",
        "lean": os.environ.get(BUILT_FOR_VARIABLE, "v4.32.0"),
        "outcome": "ok",
        "detail": "",
        "target": args.target,
        "declaration": None,
        "target_axioms": sorted(axioms) if args.target else [],
        "disallowed_axioms": sorted(a for a in set(axioms) if a not in allowed),
        "declarations": declarations,
        "answers": {hole: "42" for hole in args.holes},
        "timings_ms": {"read": 1, "import": 2, "replay": 3, "axioms": 1, "total": 7},
    }
    if args.target is not None:
        reached = closure(args.compiled, args.target)
        report["declarations"] = [d for d in declarations if d["name"] in reached]
    if (unreadable := foreign_olean(args)) is not None:
        # Step 1 of the contract: nothing else is read, nothing listed.
        path = unreadable.split("'")[1]
        report.update(
            outcome="bad_input",
            detail=f"cannot read {path}: {unreadable}",
            declarations=[],
            target_axioms=[],
            disallowed_axioms=[],
            answers={},
        )
        return report
    refused: tuple[str | None, str] | None = None
    bad = malformed(args.compiled)
    if bad is not None:
        refused = (bad[0], f"refused before replay, a malformed term: {bad[0]}: {bad[1]}")
    elif kernel := args.compiled.get("kernel"):
        first = args.compiled["declarations"][0]["name"] if declarations else None
        refused = (first, f"the kernel refused a declaration: (kernel) {kernel}")
    if refused is not None:
        report.update(
            outcome="replay_failed",
            declaration=refused[0],
            detail=refused[1],
            declarations=[] if bad is not None else declarations,  # refused before listing
            target_axioms=[],
            disallowed_axioms=[],
            answers={},
        )
    elif args.target is not None and (problem := statement_problem(args)):
        outcome, declaration, detail = problem
        report.update(
            outcome=outcome,
            declaration=declaration,
            detail=detail,
            target_axioms=[],
            disallowed_axioms=[],
            answers={},
        )
    return report


def _how(compiled: dict[str, Any]) -> dict[str, Any]:
    return {"options": compiled.get("options"), "threads": compiled.get("threads")}


def main(argv: list[str]) -> int:
    scenario = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if "--serve" in argv[1:]:  # the warm checker (verify/checkers.py)
        served: int = export_checker.serve(argv[0], scenario, argv[1:])
        return served
    if "--submission-export" in argv[1:]:
        code: int = export_checker.main(argv[0], scenario, argv[1:])
        return code
    args = parse(argv[1:])
    if log := scenario.get("argv_log"):
        modules = {"submission": args.compiled["module"]}
        # how each file was compiled: the `-D` options and `-j` the compiler recorded
        compiled = {"submission": _how(args.compiled)}
        if args.challenge_compiled is not None:
            modules["challenge"] = args.challenge_compiled["module"]
            compiled["challenge"] = _how(args.challenge_compiled)
        Path(log).write_text(
            json.dumps(
                {
                    "argv": argv[1:],
                    "env": dict(os.environ),
                    "modules": modules,
                    "compiled": compiled,
                }
            ),
            encoding="utf-8",
        )
    mode = scenario.get("mode", "report")
    report = judged_report(args, scenario.get("axioms"))
    report.update(scenario.get("report", {}))
    if mode == "report":
        print(json.dumps(report))
    elif mode == "raw":
        sys.stdout.write(scenario["stdout"])
        return int(scenario.get("exit", 0))
    elif mode == "crash":
        print("uncaught exception: INTERNAL PANIC: out of bounds", file=sys.stderr)
        return 3
    elif mode == "abort":
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGABRT)
    elif mode == "kill" or (mode == "kill-once" and not Path(scenario["flag"]).exists()):
        if mode == "kill-once":
            Path(scenario["flag"]).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "kill-once":
        print(json.dumps(report))
    elif mode == "hang":
        time.sleep(3600)
    elif mode == "two":
        print(json.dumps(report))
        print(json.dumps(report))
    elif mode == "garbage":
        print("Replaying t1\n{ not json at all")
    else:
        print(f"unknown scenario mode {mode!r}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
