"""Stand-in for `proofgate-checker`: prints what a test scripts, after checking its argv.

Run as `checker.py SCENARIO.json <the real checker's argv>`. It parses the argv exactly as the real
checker does (docs/checker-contract.md), requires the .olean files to exist (the submission's to
carry the stand-in compiler's marker), logs its argv to `argv_log` when the scenario names one, then
acts out `mode`:

- `report` (default): one contract object. Without overrides it is a coherent `ok`: the target is a
  replayed theorem reaching `axioms` (default `["propext"]`), every answer hole answered `"42"`,
  `disallowed_axioms` judged against the `--axiom` list. `report` in the scenario overrides fields.
- `raw`: print `stdout` verbatim and exit with `exit` (default 0).
- `crash`: a message on stderr and exit 3. `hang`: sleep. `abort`: SIGABRT, as a Lean panic does
  under LEAN_ABORT_ON_PANIC.
- `two`: two valid reports. `garbage`: text that is no JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from compiler import OLEAN_MARKER  # type: ignore[import-not-found]  # run as a script

CONTRACT = 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="proofgate-checker (stand-in)")
    parser.add_argument("--submission", required=True)
    parser.add_argument("--challenge")
    parser.add_argument("--target")
    parser.add_argument("--axiom", action="append", default=[])
    parser.add_argument("--answer-hole", dest="holes", action="append", default=[])
    parser.add_argument("--module-root", dest="roots", action="append", default=[])
    args = parser.parse_args(argv)
    if (args.challenge is None) != (args.target is None):
        parser.error("--challenge and --target go together")
    if args.holes and args.challenge is None:
        parser.error("--answer-hole needs --challenge")
    if not Path(args.submission).read_bytes().startswith(OLEAN_MARKER):
        parser.error(f"{args.submission} is not an .olean from the stand-in compiler")
    if args.challenge and not Path(args.challenge).read_bytes().startswith(OLEAN_MARKER):
        parser.error(f"{args.challenge} is not an .olean from the stand-in compiler")
    return args


def coherent_report(args: argparse.Namespace, axioms: list[str]) -> dict[str, object]:
    allowed = set(args.axiom)
    report: dict[str, object] = {
        "contract": CONTRACT,
        "checker": "proofgate-checker stand-in",
        "lean": "v4.32.0",
        "outcome": "ok",
        "detail": "",
        "target": args.target,
        "declaration": None,
        "target_axioms": sorted(axioms) if args.target else [],
        "disallowed_axioms": sorted(a for a in set(axioms) if a not in allowed),
        "declarations": [
            {
                "name": args.target or "helper",
                "kind": "theorem",
                "axioms": sorted(axioms),
                "replayed": True,
            }
        ],
        "answers": {hole: "42" for hole in args.holes},
        "timings_ms": {"read": 1, "import": 2, "replay": 3, "axioms": 1, "total": 7},
    }
    return report


def main(argv: list[str]) -> int:
    scenario = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    args = parse(argv[1:])
    if log := scenario.get("argv_log"):
        Path(log).write_text(
            json.dumps({"argv": argv[1:], "env": dict(os.environ)}), encoding="utf-8"
        )
    mode = scenario.get("mode", "report")
    report = coherent_report(args, scenario.get("axioms", ["propext"]))
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
