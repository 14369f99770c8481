"""The stand-in checker's export mode: contract 2 (docs/audit-design.md, section 7) judged from
exports (docs/export-format.md), with the collision table of the design's section 6
(requirement 3) applied against a `simulated-imports.json` list of imported constants.

    checker.py SCENARIO.json --submission-export SUB.ndjson [--reference-export REF.ndjson
        --target NAME] [--axiom A]... [--answer-hole H]... [--module-root M]... [--check N]

The exports are read by proofgate's own reader (`src/proofgate/verify/export.py`, loaded by path:
this program never imports the proofgate package), pinned to Lean 4.32.0 and the stand-ins' git
hash, under the scenario's `limits` (fields of `ExportLimits`; default the format's).
`simulated-imports.json` (the scenario's `imports` path, else beside the scenario) is

    {"constants": [{"name": "Nat.add_comm", "kind": "theorem", "level_params": [],
                    "type": KEY, "constant": KEY, "axioms": ["propext"]}]}

where the keys are `Export.term_key` of the type and `Export.constant_key` of the whole constant
as the "imported module's" export gives them (`imported_entry` builds one). In order, as the real
checker's one-shot export mode (`checkExport` in `Proofgate/Checker.lean`) decides (each step
passes or ends the run with its outcome):

1. the reference export does not parse: `bad_input`; the submission's: `export_invalid` or
   `export_too_large` (the limit named), nothing listed;
2. the submission's imports: none, or one outside `--module-root`: `import_not_allowed`;
3. collisions, per exported name the imports hold: the target there: `target_not_replayed`; a
   theorem with the same universe parameters and type key, or another kind with the same constant
   key: listed `identical`, not replayed; otherwise `import_redeclared` naming it;
4. the "kernel": the declaration records (one line each; an inductive record holds its types,
   constructors and recursors) with a new safe constant go to it in dependency order (Kahn's,
   as `replayOrder`); a record that cannot be ordered (on a cycle of records, or depending on
   one) is `replay_failed` naming the first such record in export order; then, record by record,
   a safe declaration using a constant neither imported nor exported, its own name outside an
   inductive record (the kernel does not know a declaration while checking it), or an unsafe or
   partial one: `replay_failed` naming the record's first constant; unsafe and partial
   declarations are listed `replayed: false`;
5. locked checks: the reference holds the target as a theorem and every `--answer-hole` as a
   definition (else `bad_input`); the target exported (`target_missing`), a theorem
   (`not_a_theorem`), the same number of universe parameters (`universe_mismatch`) and, after
   renaming them by position, the same type key (`type_mismatch`) as the reference's; then every
   constant the reference declares that its statement is built from (`_statement_closure`: from
   the target's type and every answer hole, through the type of theorems and answer holes and
   everything else a constant mentions, an inductive's constructors included) is exported and
   the same (theorems: kind, universe parameters and type key; answer holes: kind, universe
   parameters, type key and safety; anything else: the constant key):
   `statement_constant_changed`;
6. axioms, walked from the target (free compile: from every replayed declaration) through what
   the new constants mention and the imports' `axioms` (a name that collided identically is the
   imported constant, whatever proof the export gave it); every replayed declaration listed
   carries the axioms it reaches (a free compile judges those of theorems); `ok`.

"Mentions" is the Lean checker's `mentions`: the constants of a declaration's expressions (the
structure of a projection too), and for an inductive type its constructors and mutual types, for
a constructor its type, for a recursor its types and its rules' constructors.

Serve mode (the warm checker, docs/audit-design.md section 9, step 4; `verify/checkers.py` drives
it):

    export_checker.py SCENARIO.json --serve --import M [--import M]... [--import-seconds S]
        [--import-log FILE] [--late-gate FILE] [--late-seconds S] [--huge-bytes N]

It "imports" once (sleeps `--import-seconds`, default $PROOFGATE_STANDIN_IMPORT_SECONDS or 0.05;
reads `simulated-imports.json`; appends its pid to `--import-log`), prints
`{"ready": {"contract": 2, "checker": ..., "lean": ...}}`, then reads one request a line on stdin

    {"check": 41, "submission": "SUB.ndjson", "reference": "REF.ndjson" | null,
     "target": "t1" | null, "axioms": [...], "answer_holes": [...], "module_roots": [...]}

(every key required, no other; the one-shot options as data, with the one-shot's rules) and
answers each with one line: the report the one-shot mode prints for the same inputs (`check`
echoed, the scenario's `report` applied). A request it cannot read ends it (exit 2, stderr), as a
bad command line ends the one-shot mode; end of stdin ends it (exit 0).

Markers make it misbehave on demand: a declaration of the submission export whose name's last
component is the marker (in Lean, `theorem «checker-hang» : True := trivial`; the format has no
comments, and a name is what a submission's text controls). Markers act only in an export that
parses. `checker-hang`: a busy loop, never answers; `checker-huge`: answers its report with a
`detail` of `--huge-bytes` bytes (default 80 MiB, past any reply cap); `checker-crash`: exits 3
before answering; `checker-late`: answers its (ok) report only once `--late-gate` exists (tests
create it after the deadline passed), or after `--late-seconds` (default 5).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from exporter import LEAN_VERSION, STANDIN_GITHASH  # type: ignore[import-not-found]

CONTRACT = 2
CHECKER = "proofgate-checker stand-in (exports)"


def _load_export_rules() -> ModuleType:
    """proofgate's export reader, loaded as a file (standard library only, no sibling imports)."""
    path = Path(__file__).resolve().parents[2] / "src/proofgate/verify/export.py"
    spec = importlib.util.spec_from_file_location("proofgate_export_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


export_rules = _load_export_rules()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proofgate-checker (stand-in, exports)")
    parser.add_argument("--submission-export", dest="submission", required=True)
    parser.add_argument("--reference-export", dest="reference")
    parser.add_argument("--target")
    parser.add_argument("--axiom", action="append", default=[])
    parser.add_argument("--answer-hole", dest="holes", action="append", default=[])
    parser.add_argument("--module-root", dest="roots", action="append", default=[])
    parser.add_argument("--check", type=int, default=0)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if (args.reference is None) != (args.target is None):
        p.error("--reference-export and --target go together")
    if args.holes and args.reference is None:
        p.error("--answer-hole needs --reference-export")
    return args


def read(path: str, limits: dict[str, int] | None = None) -> Any:
    pin = export_rules.LeanPin(LEAN_VERSION, STANDIN_GITHASH)
    bounds = export_rules.ExportLimits(**(limits or {}))
    return export_rules.parse_export(Path(path).read_bytes(), lean=pin, limits=bounds)


def imported_entry(
    export: Any, declaration: Any, axioms: list[str] | None = None
) -> dict[str, Any]:
    """The `simulated-imports.json` entry for a constant of an export (the "imported module")."""
    return {
        "name": declaration.name,
        "kind": declaration.kind,
        "level_params": list(declaration.level_params),
        "type": export.term_key(declaration.type),
        "constant": export.constant_key(declaration),
        "axioms": axioms or [],
    }


def load_imports(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    constants = json.loads(path.read_text("utf-8"))["constants"]
    return {c["name"]: c for c in constants}


class Judgement(Exception):
    """A conclusion other than ok: (outcome, declaration, detail)."""

    def __init__(self, outcome: str, declaration: str | None, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.declaration, self.detail = outcome, declaration, detail


def judge(
    args: argparse.Namespace,
    imports: dict[str, dict[str, Any]],
    limits: dict[str, int] | None = None,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "contract": CONTRACT,
        "check": args.check,
        "checker": CHECKER,
        "lean": f"v{LEAN_VERSION}",
        "outcome": "ok",
        "detail": "",
        "target": args.target,
        "declaration": None,
        "target_axioms": [],
        "disallowed_axioms": [],
        "declarations": [],
        "collisions": [],
        "answers": {},
        "timings_ms": {"parse": 1, "replay": 1, "axioms": 1, "compare": 1, "total": 4},
    }
    try:
        _judge(args, imports, report, limits)
    except Judgement as judgement:
        report.update(
            outcome=judgement.outcome,
            declaration=judgement.declaration,
            detail=judgement.detail,
            target_axioms=[],
            disallowed_axioms=[],
            answers={},
        )
    return report


def _judge(
    args: argparse.Namespace,
    imports: dict[str, dict[str, Any]],
    report: dict[str, Any],
    limits: dict[str, int] | None,
) -> None:
    reference = None
    if args.reference is not None:
        reference = read(args.reference)
        if isinstance(reference, export_rules.ExportRefusal):
            raise Judgement("bad_input", None, f"the reference export: {reference.reason}")
    sub = read(args.submission, limits)
    if isinstance(sub, export_rules.ExportRefusal):
        word = "malformed" if sub.outcome == "export_invalid" else "too large"
        raise Judgement(sub.outcome, None, f"the elaborator's export is {word}: {sub.reason}")
    roots = set(args.roots)
    if not sub.meta.imports:
        raise Judgement("import_not_allowed", None, "the submission imports nothing (prelude)")
    for module in sub.meta.imports:
        if module.split(".")[0] not in roots:
            raise Judgement(
                "import_not_allowed", None, f"import {module} is outside the allowed modules"
            )

    # 3. collisions
    declared = {d.name: d for d in sub.declarations}
    replay: list[Any] = []
    for d in sub.declarations:
        theirs = imports.get(d.name)
        if theirs is None:
            replay.append(d)
            continue
        if d.name == args.target:
            raise Judgement(
                "target_not_replayed", d.name, f"{d.name} already exists in the imports"
            )
        if d.kind == "theorem" and theirs["kind"] == "theorem":
            same = (
                list(d.level_params) == theirs["level_params"]
                and sub.term_key(d.type) == theirs["type"]
            )
        else:
            same = d.kind == theirs["kind"] and sub.constant_key(d) == theirs["constant"]
        report["collisions"].append({"name": d.name, "kind": d.kind, "identical": same})
        if not same:
            raise Judgement(
                "import_redeclared", d.name, f"{d.name} redeclares the imported {theirs['kind']}"
            )

    # 4. the kernel, as far as a stand-in can model it
    listed = [
        {"name": d.name, "kind": d.kind, "axioms": [], "replayed": not (d.unsafe or d.partial)}
        for d in replay
    ]
    report["declarations"] = listed
    known = set(imports) | set(declared)
    records = _records(replay)
    for record in _replay_order(sub, records):
        head = record[0].name
        for d in record:
            if d.unsafe or d.partial:
                continue
            used = sub.constants_used(d.exprs)
            unknown = sorted(used - known)
            if d.name in used and d.kind not in ("inductive", "constructor", "recursor"):
                unknown = [d.name]  # not declared yet while the kernel checks it
            if unknown:
                raise Judgement("replay_failed", head, f"(kernel) unknown constant '{unknown[0]}'")
            bad = sorted(
                n for n in used if n in declared and (declared[n].unsafe or declared[n].partial)
            )
            if bad:
                raise Judgement(
                    "replay_failed",
                    head,
                    f"(kernel) invalid declaration, it uses unsafe declaration '{bad[0]}'",
                )

    # 5. the target and the statement's constants
    if reference is not None:
        _compare(args, sub, reference, declared)

    # 6. axioms: every replayed declaration listed carries the axioms it reaches; a name that
    # collided identically is the imported constant (the kernel environment holds that one)
    allowed = set(args.axiom)
    new = {d.name: d for d in replay}
    axioms_of = {
        e["name"]: sorted(_axioms(sub, e["name"], new, imports)) for e in listed if e["replayed"]
    }
    for entry in listed:
        entry["axioms"] = axioms_of.get(entry["name"], [])
    if args.target is not None:
        closure = _closure(sub, args.target, new)
        report["declarations"] = [e for e in listed if e["replayed"] and e["name"] in closure]
        report["target_axioms"] = axioms_of[args.target]
        judged = set(report["target_axioms"])
    else:
        judged = {a for e in listed if e["kind"] == "theorem" for a in e["axioms"]}
    report["disallowed_axioms"] = sorted(judged - allowed)
    report["answers"] = {hole: "42" for hole in args.holes}


def _records(replay: list[Any]) -> list[list[Any]]:
    """The declaration records (one line each) that go to the kernel: those with a safe constant
    that did not collide, in export order."""
    by_line: dict[int, list[Any]] = {}
    for d in replay:
        by_line.setdefault(d.line, []).append(d)
    return [r for r in by_line.values() if any(not (d.unsafe or d.partial) for d in r)]


def _replay_order(sub: Any, records: list[list[Any]]) -> list[list[Any]]:
    """The records in the order the Lean checker sends them (`replayOrder`: Kahn's algorithm,
    ready records in export order, first in first out), each after the records whose constants it
    mentions. A record left over (on a cycle, or depending on one) is `replay_failed`, naming the
    first such record in export order."""
    owner = {d.name: i for i, record in enumerate(records) for d in record}
    users: list[list[int]] = [[] for _ in records]
    pending = [0] * len(records)
    for i, record in enumerate(records):
        deps = {owner[n] for d in record for n in _mentions(sub, d) if n in owner} - {i}
        for j in deps:
            users[j].append(i)
        pending[i] = len(deps)
    ready = [i for i in range(len(records)) if pending[i] == 0]
    head = 0
    while head < len(ready):
        i = ready[head]
        head += 1
        for u in sorted(users[i]):
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
    if len(ready) < len(records):
        first = next(records[i][0].name for i in range(len(records)) if pending[i])
        raise Judgement(
            "replay_failed",
            first,
            f"(replay) {first} is on a dependency cycle of the export's declarations, or uses one",
        )
    return [records[i] for i in ready]


def _mentions(export: Any, d: Any) -> set[str]:
    """Every name declaration `d` mentions, as the Lean checker's `mentions` reads it: the
    constants (and projected structures) of its expressions, and an inductive type's constructors
    and mutual types, a constructor's type, a recursor's types and its rules' constructors."""
    found = export.constants_used(d.exprs)
    data = dict(d.data)
    if d.kind == "inductive":
        found |= set(data["ctors"]) | set(data["all"])
    elif d.kind == "constructor":
        found.add(data["induct"])
    elif d.kind == "recursor":
        found |= set(data["all"]) | {ctor for ctor, _ in data["rules"]}
    return found


def _compare(args: argparse.Namespace, sub: Any, reference: Any, declared: dict[str, Any]) -> None:
    target = args.target
    theirs = reference.declaration(target)
    if theirs is None or theirs.kind != "theorem":
        raise Judgement("bad_input", target, f"the reference has no theorem {target}")
    ref_declared = {d.name: d for d in reference.declarations}
    for hole in args.holes:
        if hole not in ref_declared or ref_declared[hole].kind != "definition":
            raise Judgement(
                "bad_input", hole, f"the reference has no definition {hole} (answer hole)"
            )
    mine = declared.get(target)
    if mine is None:
        raise Judgement("target_missing", target, f"the submission declares no {target}")
    if mine.kind != "theorem":
        raise Judgement("not_a_theorem", target, f"{target} is a {mine.kind}, not a theorem")
    if len(mine.level_params) != len(theirs.level_params):
        raise Judgement(
            "universe_mismatch",
            target,
            f"{target} has {len(mine.level_params)} universe parameters, the statement {len(theirs.level_params)}",
        )
    if sub.term_key(mine.type, mine.level_params) != reference.term_key(
        theirs.type, theirs.level_params
    ):
        raise Judgement("type_mismatch", target, f"{target} does not state the locked statement")
    for name in sorted(_statement_closure(reference, target, ref_declared, args.holes)):
        locked = ref_declared[name]
        other = declared.get(name)
        if other is None:
            raise Judgement(
                "statement_constant_changed", name, f"{name}: the submission does not declare it"
            )
        if name in args.holes or locked.kind == "theorem":
            # a theorem: its statement (proofs are irrelevant to the kernel); an answer hole:
            # its statement and safety, any value
            same = (
                other.kind == locked.kind
                and other.level_params == locked.level_params
                and sub.term_key(other.type) == reference.term_key(locked.type)
                and (other.unsafe, other.partial) == (locked.unsafe, locked.partial)
            )
        else:
            same = sub.constant_key(other) == reference.constant_key(locked)
        if not same:
            raise Judgement(
                "statement_constant_changed", name, f"{name}: the {locked.kind} changed"
            )


def _statement_closure(
    reference: Any, target: str, ref_declared: dict[str, Any], holes: list[str]
) -> set[str]:
    """The constants the reference declares that its statement is built from (the Lean checker's
    `referenceClosure`, contract 1's `closureProblem`): from the target's type and every answer
    hole, through only the type of theorems and answer holes, through everything any other
    constant mentions (`_mentions`: an inductive's constructors too). The target is left out."""
    found: set[str] = set()
    seen = {target}
    todo = [*reference.constants_used((ref_declared[target].type,)), *holes]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        d = ref_declared.get(name)
        if d is None:
            continue
        found.add(name)
        if name in holes or d.kind == "theorem":
            todo += reference.constants_used((d.type,))
        else:
            todo += _mentions(reference, d)
    return found


def _closure(export: Any, start: str, declared: dict[str, Any]) -> set[str]:
    """The constants of `declared` that `start` reaches through everything each one mentions
    (`_mentions`): what the Lean checker's axiom walk visits among the new constants."""
    found: set[str] = set()
    todo = [start] if start in declared else []
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        todo += [n for n in _mentions(export, declared[name]) if n in declared and n not in found]
    return found


def _axioms(
    sub: Any, start: str, new: dict[str, Any], imports: dict[str, dict[str, Any]]
) -> set[str]:
    """The axioms `start` reaches: new axioms in its closure among the `new` (not colliding)
    constants, and every imported constant that closure mentions, with the axioms it reaches."""
    found: set[str] = set()
    for name in _closure(sub, start, new):
        d = new[name]
        if d.kind == "axiom":
            found.add(name)
        for used in _mentions(sub, d):
            imported = imports.get(used)
            if imported is not None and used not in new:
                found.update(imported.get("axioms", []))
                if imported["kind"] == "axiom":
                    found.add(used)
    return found


def main(scenario_path: str, scenario: dict[str, Any], argv: list[str]) -> int:
    args = parse_args(argv)
    imports_path = scenario.get("imports") or str(
        Path(scenario_path).parent / "simulated-imports.json"
    )
    report = judge(args, load_imports(Path(imports_path)), scenario.get("limits"))
    report.update(scenario.get("report", {}))
    if log := scenario.get("argv_log"):
        Path(log).write_text(json.dumps({"argv": argv}), encoding="utf-8")
    print(json.dumps(report))
    return 0


# --- serve mode ---------------------------------------------------------------------------------

MARKERS = ("checker-hang", "checker-huge", "checker-crash", "checker-late")
IMPORT_SECONDS_ENV = "PROOFGATE_STANDIN_IMPORT_SECONDS"
#: A request's keys: the one-shot command line's options, as data.
REQUEST_KEYS = frozenset(
    {"check", "submission", "reference", "target", "axioms", "answer_holes", "module_roots"}
)
GATE_POLL_SECONDS = 0.01


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proofgate-checker --serve (stand-in, exports)")
    parser.add_argument("--serve", action="store_true", required=True)
    # what it imports once (Proofgate/Serve.lean: at least one); a check whose export imports a
    # module outside their closure is `bad_input`
    parser.add_argument("--import", dest="imports", action="append", required=True)
    parser.add_argument(
        "--import-seconds", type=float, default=float(os.environ.get(IMPORT_SECONDS_ENV, "0.05"))
    )
    parser.add_argument("--import-log")
    parser.add_argument("--late-gate")
    parser.add_argument("--late-seconds", type=float, default=5.0)
    parser.add_argument("--huge-bytes", type=int, default=80 << 20)
    return parser


def request_args(raw: bytes) -> argparse.Namespace:
    """One request line as the namespace `parse_args` gives the one-shot mode; ValueError if it
    is not exactly a request."""
    request = json.loads(raw)
    if not isinstance(request, dict) or set(request) != REQUEST_KEYS:
        keys = sorted(request) if isinstance(request, dict) else type(request).__name__
        raise ValueError(f"a request has exactly the keys {sorted(REQUEST_KEYS)}, not {keys}")
    check = request["check"]
    if type(check) is not int or check < 0:
        raise ValueError(f"check must be a natural number, not {check!r}")
    if not isinstance(request["submission"], str):
        raise ValueError("submission must be a path")
    for key in ("reference", "target"):
        if request[key] is not None and not isinstance(request[key], str):
            raise ValueError(f"{key} must be a string or null")
    for key in ("axioms", "answer_holes", "module_roots"):
        value = request[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a list of strings")
    if (request["reference"] is None) != (request["target"] is None):
        raise ValueError("reference and target go together")
    if request["answer_holes"] and request["reference"] is None:
        raise ValueError("answer_holes needs a reference")
    return argparse.Namespace(
        submission=request["submission"],
        reference=request["reference"],
        target=request["target"],
        axiom=list(request["axioms"]),
        holes=list(request["answer_holes"]),
        roots=list(request["module_roots"]),
        check=check,
    )


def marker(path: str, limits: dict[str, int] | None) -> str | None:
    """The misbehaviour a submission export asks for: a declaration named by a marker."""
    export = read(path, limits)
    if isinstance(export, export_rules.ExportRefusal):
        return None
    for declaration in export.declarations:
        last = declaration.name_parts[-1] if declaration.name_parts else None
        if last in MARKERS:
            return str(last)
    return None


#: Reached before the serve mode compares the export's imports with its own.
EARLIER_OUTCOMES = frozenset({"export_invalid", "export_too_large", "import_not_allowed"})
#: Imported by every module (the stand-ins' closure rule), and the umbrella that imports all of
#: its namespace.
CORE_ROOTS = frozenset({"Init", "Std", "Lean"})
UMBRELLAS = frozenset({"Mathlib"})


def _outside(path: str, imported: list[str], limits: dict[str, int] | None) -> str | None:
    """The first module the export imports that the checker's imports do not bring: not one of
    them, not core, not under an umbrella among them (the stand-in's closure)."""
    export = read(path, limits)
    if isinstance(export, export_rules.ExportRefusal):
        return None
    for module in export.meta.imports:
        root = module.split(".")[0]
        under = any(module.startswith(f"{u}.") for u in imported if u in UMBRELLAS)
        if module not in imported and root not in CORE_ROOTS and not under:
            return str(module)
    return None


def _answer(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def serve(scenario_path: str, scenario: dict[str, Any], argv: list[str]) -> int:
    options = serve_parser().parse_args(argv)
    imports_path = scenario.get("imports") or str(
        Path(scenario_path).parent / "simulated-imports.json"
    )
    # the import, once per process: what a restart costs
    time.sleep(options.import_seconds)
    imports = load_imports(Path(imports_path))
    if options.import_log:
        with open(options.import_log, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
    limits = scenario.get("limits")
    _answer(
        json.dumps(
            {"ready": {"contract": CONTRACT, "checker": CHECKER, "lean": f"v{LEAN_VERSION}"}}
        )
    )
    for raw in sys.stdin.buffer:
        try:
            args = request_args(raw)
        except ValueError as exc:  # json's errors are ValueErrors too
            print(f"proofgate-checker --serve: not a request: {exc}", file=sys.stderr)
            return 2
        misbehave = marker(args.submission, limits)
        if misbehave == "checker-crash":
            print("proofgate-checker --serve: checker-crash marker, exiting", file=sys.stderr)
            return 3
        if misbehave == "checker-hang":
            while True:  # busy, as a runaway kernel check is
                pass
        report = judge(args, imports, limits)
        outside = _outside(args.submission, options.imports, limits)
        if outside and report["outcome"] not in EARLIER_OUTCOMES:
            report.update(
                outcome="bad_input",
                declaration=None,
                detail=f"the export imports {outside}, which this checker did not import",
                target_axioms=[],
                disallowed_axioms=[],
                declarations=[],
                collisions=[],
                answers={},
            )
        report.update(scenario.get("report", {}))
        if misbehave == "checker-huge":
            report["detail"] = "x" * options.huge_bytes
        if misbehave == "checker-late":
            gate = Path(options.late_gate) if options.late_gate else None
            until = time.monotonic() + options.late_seconds
            while not (gate.exists() if gate else time.monotonic() >= until):
                time.sleep(GATE_POLL_SECONDS)
        _answer(json.dumps(report))
    return 0


if __name__ == "__main__":
    scenario_file = sys.argv[1]
    loaded = json.loads(Path(scenario_file).read_text(encoding="utf-8"))
    run = serve if "--serve" in sys.argv[2:] else main
    sys.exit(run(scenario_file, loaded, sys.argv[2:]))
