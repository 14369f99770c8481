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
checker decides (each step passes or ends the run with its outcome):

1. the reference export does not parse: `bad_input`; the submission's: `export_invalid` or
   `export_too_large` (the limit named), nothing listed;
2. the submission's imports: none, or one outside `--module-root`: `import_not_allowed`;
3. collisions, per exported name the imports hold: the target there: `target_not_replayed`; a
   theorem with the same universe parameters and type key, or another kind with the same constant
   key: listed `identical`, not replayed; otherwise `import_redeclared` naming it;
4. the "kernel": a safe declaration using a constant neither imported nor exported, or an unsafe
   or partial one: `replay_failed`; unsafe and partial declarations are listed `replayed: false`;
5. locked checks: the target exported (`target_missing`), a theorem (`not_a_theorem`), the same
   number of universe parameters (`universe_mismatch`) and, after renaming them by position, the
   same type key (`type_mismatch`) as the reference's; every constant the reference declares that
   its target's type reaches (through types and values, projections included) exported with the
   same constant key (answer holes: the same universe parameters, type and safety):
   `statement_constant_changed`;
6. axioms, walked from the target (free compile: from every declaration) through exported values
   and the imports' `axioms`; `ok`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
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
    for d in replay:
        if d.unsafe or d.partial:
            continue
        used = sub.constants_used(d.exprs)
        unknown = sorted(used - known)
        if unknown:
            raise Judgement("replay_failed", d.name, f"(kernel) unknown constant '{unknown[0]}'")
        bad = sorted(
            n for n in used if n in declared and (declared[n].unsafe or declared[n].partial)
        )
        if bad:
            raise Judgement(
                "replay_failed",
                d.name,
                f"(kernel) invalid declaration, it uses unsafe declaration '{bad[0]}'",
            )

    # 5. the target and the statement's constants
    if reference is not None:
        _compare(args, sub, reference, declared)

    # 6. axioms
    allowed = set(args.axiom)
    axioms_of = {d.name: sorted(_axioms(sub, d.name, declared, imports)) for d in replay}
    for entry in listed:
        entry["axioms"] = axioms_of[entry["name"]] if entry["kind"] == "theorem" else []
    if args.target is not None:
        closure = _closure(sub, args.target, declared)
        report["declarations"] = [e for e in listed if e["name"] in closure]
        report["target_axioms"] = axioms_of[args.target]
        judged = set(report["target_axioms"])
    else:
        judged = {a for e in listed if e["kind"] == "theorem" for a in e["axioms"]}
    report["disallowed_axioms"] = sorted(judged - allowed)
    report["answers"] = {hole: "42" for hole in args.holes}


def _compare(args: argparse.Namespace, sub: Any, reference: Any, declared: dict[str, Any]) -> None:
    target = args.target
    theirs = reference.declaration(target)
    if theirs is None or theirs.kind != "theorem":
        raise Judgement("bad_input", target, f"the reference has no theorem {target}")
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
    ref_declared = {d.name: d for d in reference.declarations}
    for name in sorted(_closure(reference, target, ref_declared, types_only=True) - {target}):
        locked = ref_declared[name]
        other = declared.get(name)
        if other is None:
            raise Judgement(
                "statement_constant_changed", name, f"{name}: the submission does not declare it"
            )
        if name in args.holes:
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


def _closure(
    export: Any, start: str, declared: dict[str, Any], *, types_only: bool = False
) -> set[str]:
    """The exported constants `start` reaches: through its type (and, past `start`, through types
    and values) when `types_only`, else through everything it holds."""
    found: set[str] = set()
    todo = [start] if start in declared else []
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        d = declared[name]
        exprs = (d.type,) if (types_only and name == start) else d.exprs
        todo += [n for n in export.constants_used(exprs) if n in declared and n not in found]
    return found


def _axioms(
    sub: Any, start: str, declared: dict[str, Any], imports: dict[str, dict[str, Any]]
) -> set[str]:
    found: set[str] = set()
    for name in _closure(sub, start, declared):
        d = declared[name]
        if d.kind == "axiom":
            found.add(name)
        for used in sub.constants_used(d.exprs):
            imported = imports.get(used)
            if imported is not None and used not in declared:
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
