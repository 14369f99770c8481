"""The SIMULATED Lean toolchain of `proofgate bench`'s audit model: `lean`, `proofgate-checker`
and `proofgate-export`.

No Lean is in it and it checks nothing a real checker checks; it costs what the model says the real
programs cost, so that the service's real `Auditor` starts real jailed processes as deployed. It is
copied as `ELAN_HOME/bin/lean` and `PROJECT/.lake/build/bin/proofgate-checker` (with a `lake` that
runs `lake env CMD` as CMD) by `proofgate.bench.audit_model`, and is picked by the name it runs
under. It runs as a file under the system's Python inside the jail: standard library only.

- `lean [-j N] [-D NAME=VALUE]... --json -R ROOT -o OLEAN SOURCE`: the module name from SOURCE's
  path under ROOT, as Lean derives it (a file outside the root is refused, exit 1); then the import
  (a sleep of `import_seconds` when the file has an `import` line), then the elaboration (a sleep
  of `elaboration_factor` times the sum of the file's `-- standin: sleep S` markers: the simulated
  REPL's check time for the same text); then OLEAN: a marker and a JSON record of the module and
  its declarations (name, kind, the hash of the text that states it).
- `proofgate-checker --submission OLEAN [--challenge OLEAN --target NAME] [--axiom A]...
  [--answer-hole H]... [--module-root M]...`: the import (a sleep of `import_seconds`), the replay
  (`replay_ms_per_declaration` ms of CPU for each declaration of the submission), and one report
  of the checker's contract (docs/checker-contract.md): `ok` when the submission declares the
  target as a theorem stating the challenge's text, every theorem reaching only `propext`.
- `proofgate-checker --serve --import M...` (the warm audit, `PROOFGATE_AUDIT_CHECKER=warm`): the import once,
  a ready line, then per request line the same replay and judgement on two exports, answered with
  contract 2's report (`check` echoed).
- `proofgate-export --olean F --module M --out F`: no import, the .olean's record copied into a
  SIMULATED export (a marker and the record, not docs/export-format.md's format).

Its parameters come from `simulated-lean.json` beside the file.

The Lean facts the test stand-ins share with it live here too (`BUILTIN_OPTIONS`, the checker's
command line): being standard library only with no sibling imports, this file is what
tests/standins/compiler.py and checker.py load by path, and the simulated REPL imports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

OLEAN_MARKER = b"proofgate-bench simulated olean\n"
EXPORT_MARKER = b"proofgate-bench simulated export\n"
SIMULATED_CHECKER = "proofgate-checker (SIMULATED: proofgate bench)"
CONFIG = "simulated-lean.json"
SLEEP_MARKER = re.compile(r"^\s*-- standin: sleep ([0-9.]+)\s*$", re.MULTILINE)
IMPORT = re.compile(r"^import\s+\S", re.MULTILINE)
DECLARATION = re.compile(
    r"^(?:(?:private|protected|noncomputable)\s+)*(?P<keyword>theorem|lemma|def|abbrev|instance)"
    r"\s+(?P<name>[^\s:({\[]+)(?P<rest>.*?)(?=^\S|\Z)",
    re.MULTILINE | re.DOTALL,
)
KINDS = {
    "theorem": "theorem",
    "lemma": "theorem",
    "def": "definition",
    "abbrev": "definition",
    "instance": "definition",
}
AXIOMS = ["propext"]
#: Options Lean declares before any import, with the kind of their value (a few of Lean core's
#: `register_builtin_option`s; Mathlib's own, e.g. its linters, are declared by its imports).
BUILTIN_OPTIONS = {
    "autoImplicit": "Bool",
    "relaxedAutoImplicit": "Bool",
    "maxHeartbeats": "Nat",
    "maxRecDepth": "Nat",
    "maxSynthPendingDepth": "Nat",
    "pp.unicode.fun": "Bool",
    "linter.unusedVariables": "Bool",
}


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (Path(sys.argv[0]).resolve().parent / CONFIG).read_text("utf-8")
    )
    return loaded


def _declarations(source: str) -> list[dict[str, str]]:
    found = []
    for match in DECLARATION.finditer(source):
        stated = " ".join(match["rest"].split(":=", 1)[0].split())
        found.append(
            {
                "name": match["name"],
                "kind": KINDS[match["keyword"]],
                "statement_sha256": hashlib.sha256(stated.encode()).hexdigest(),
            }
        )
    return found


def compile_main(argv: list[str], config: dict[str, Any]) -> int:
    parser = argparse.ArgumentParser(prog="lean (simulated)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-o", dest="olean", required=True)
    parser.add_argument("-R", "--root", dest="root")
    parser.add_argument("-D", dest="options", action="append", default=[])
    parser.add_argument("-j", "--threads", dest="threads")
    parser.add_argument("source")
    args = parser.parse_args(argv)
    source_path = os.path.realpath(args.source)
    root = os.path.join(os.path.realpath(args.root or os.getcwd()), "")
    if not source_path.startswith(root):
        print(f"input file '{source_path}' must be contained in root directory ({root})")
        return 1
    module = ".".join(os.path.splitext(source_path[len(root) :])[0].split(os.sep))
    source = Path(source_path).read_text("utf-8")
    if IMPORT.search(source):
        time.sleep(float(config["import_seconds"]))
    elaboration = sum(float(s) for s in SLEEP_MARKER.findall(source))
    time.sleep(elaboration * float(config["elaboration_factor"]))
    record = {"module": module, "declarations": _declarations(source)}
    Path(args.olean).write_bytes(OLEAN_MARKER + json.dumps(record).encode())
    return 0


def _read_marked(path: str, marker: bytes, what: str) -> dict[str, Any]:
    """The record of a file this toolchain wrote (`marker` first); SystemExit for another."""
    data = Path(path).read_bytes()
    if not data.startswith(marker):
        raise SystemExit(f"{path}: not {what}")
    record: dict[str, Any] = json.loads(data[len(marker) :])
    return record


def _read_olean(path: str) -> dict[str, Any]:
    return _read_marked(path, OLEAN_MARKER, "an .olean of the simulated lean")


def _burn(seconds: float) -> None:
    """CPU, not a sleep: the kernel's replay is computation."""
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def checker_parser(prog: str) -> argparse.ArgumentParser:
    """The real checker's command line (docs/checker-contract.md); read it with `checker_args`."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--challenge")
    parser.add_argument("--target")
    parser.add_argument("--axiom", action="append", default=[])
    parser.add_argument("--answer-hole", dest="holes", action="append", default=[])
    parser.add_argument("--module-root", dest="roots", action="append", default=[])
    return parser


def checker_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`argv` as the real checker takes it: a usage error (exit 2) for `--challenge` without
    `--target` or the reverse, and for `--answer-hole` in a free compile."""
    args = parser.parse_args(argv)
    if (args.challenge is None) != (args.target is None):
        parser.error("--challenge and --target go together")
    if args.holes and args.challenge is None:
        parser.error("--answer-hole needs --challenge")
    return args


def check_main(argv: list[str], config: dict[str, Any]) -> int:
    args = checker_args(checker_parser("proofgate-checker (simulated)"), argv)
    submission = _read_olean(args.submission)
    challenge = _read_olean(args.challenge) if args.challenge else None
    time.sleep(float(config["import_seconds"]))
    report = _judge(submission, challenge, args.target, args.axiom, args.holes, config)
    print(json.dumps(report))
    return 0


def _judge(
    submission: dict[str, Any],
    challenge: dict[str, Any] | None,
    target: str | None,
    axioms: list[str],
    holes: list[str],
    config: dict[str, Any],
) -> dict[str, Any]:
    """The replay's CPU, then contract 1's report on the two records."""
    declared = submission["declarations"]
    _burn(len(declared) * float(config["replay_ms_per_declaration"]) / 1000)
    allowed = set(axioms)
    declarations = [
        {
            "name": d["name"],
            "kind": d["kind"],
            "axioms": AXIOMS if d["kind"] == "theorem" else [],
            "replayed": True,
        }
        for d in declared
    ]
    outcome, detail, named = "ok", "", None
    if challenge is not None:
        mine = {d["name"]: d for d in declared}.get(target)
        theirs = {d["name"]: d for d in challenge["declarations"]}.get(target)
        if mine is None:
            outcome, detail, named = "target_missing", "no such declaration", target
        elif mine["kind"] != "theorem":
            outcome, detail, named = "not_a_theorem", mine["kind"], target
        elif theirs is None or theirs["statement_sha256"] != mine["statement_sha256"]:
            outcome, detail, named = "type_mismatch", "another statement", target
    passed = outcome == "ok"
    target_axioms = AXIOMS if target and passed else []
    theorems = [a for d in declarations if d["kind"] == "theorem" for a in d["axioms"]]
    judged = target_axioms if target else theorems
    return {
        "contract": 1,
        "checker": SIMULATED_CHECKER,
        "lean": config["lean_version"],
        "outcome": outcome,
        "detail": detail,
        "target": target,
        "declaration": named,
        "target_axioms": target_axioms,
        "disallowed_axioms": sorted({a for a in judged if a not in allowed}) if passed else [],
        "declarations": declarations,
        "answers": {hole: "42" for hole in holes} if passed else {},
        "timings_ms": {},
    }


def export_main(argv: list[str]) -> int:
    """`proofgate-export --olean F --module M --out F [--option N=V]...`: no import (the real one
    reads one .olean); the record is copied, marked as a SIMULATED export (not format 1)."""
    parser = argparse.ArgumentParser(prog="proofgate-export (simulated)")
    parser.add_argument("--olean", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--option", action="append", default=[])
    args = parser.parse_args(argv)
    record = _read_olean(args.olean)
    Path(args.out).write_bytes(EXPORT_MARKER + json.dumps(record).encode())
    return 0


def _read_export(path: str) -> dict[str, Any]:
    return _read_marked(path, EXPORT_MARKER, "an export of the simulated proofgate-export")


def serve_main(config: dict[str, Any]) -> int:
    """`proofgate-checker --serve`: the import once, then one contract-2 report a request line."""
    time.sleep(float(config["import_seconds"]))
    ready = {"contract": 2, "checker": SIMULATED_CHECKER, "lean": config["lean_version"]}
    sys.stdout.write(json.dumps({"ready": ready}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        submission = _read_export(request["submission"])
        reference = _read_export(request["reference"]) if request["reference"] else None
        report = _judge(
            submission,
            reference,
            request["target"],
            request["axioms"],
            request["answer_holes"],
            config,
        )
        report.update(contract=2, check=request["check"], collisions=[])
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()
    return 0


def main() -> int:
    config = _config()
    program = Path(sys.argv[0]).name
    if program == "lean":
        return compile_main(sys.argv[1:], config)
    if program == "proofgate-checker" and sys.argv[1:2] == ["--serve"]:
        return serve_main(config)  # its `--import M` flags: the simulated import is one sleep
    if program == "proofgate-checker":
        return check_main(sys.argv[1:], config)
    if program == "proofgate-export":
        return export_main(sys.argv[1:])
    print(
        f"simulated lean: run as `lean`, `proofgate-checker` or `proofgate-export`, not {program!r}",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
