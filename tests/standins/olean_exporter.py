"""Stand-in for `proofgate-export` (docs/audit-design.md, section 9, step 3): reads a stand-in
compiler's .olean and writes the module's constants as an export (docs/export-format.md).

    olean_exporter.py SCENARIO.json --olean PATH --module NAME --out PATH [--option NAME=VALUE]...

The CLI after the scenario is the real exporter's (Proofgate/Export.lean). Like it, this program is
untrusted: it reads a file the submission's compile wrote, and its output is data the checker
parses. Its rules (the real exporter's, where the stand-ins can model them):
- the .olean must come from the stand-in compiler (`bad_olean`), the arguments be well formed
  (`bad_arguments`: `--flag value` only, each of --olean, --module, --out once, an option numeral
  of at most 10 digits), and its private constants carry --module's name (`module_mismatch`: an
  .olean stores no module name); a refusal is one JSON line `{"error": CODE, "detail": ...}` on
  stdout, exit 1, and no --out file;
- the meta line carries `--module`, the .olean's imports and the `--option` pairs (typed as the
  format says: `true`/`false`, digits, else a string); then each declaration of the .olean in
  order, each name and term written once and before its first use.

A stand-in .olean holds statement texts, not terms, so each constant is built from them:
- its type is `Standin.Statement "<statement text>" c1 c2 ...`: two constants state the same
  thing exactly when their statement texts agree, and the type mentions `ci`, the earlier
  declarations of the module its statement names (by full or last name, as Lean resolves them in
  the file's namespaces) and the imported constants it names;
- its value is `Standin.Proof "<hash of its whole text>" c1 ... a1 ... n1 ...`: the constants its
  whole text names (as above), for a theorem the axioms the source's `-- standin-axioms:` marker
  names (default `propext`), and each numeral as a natural-number literal as the .olean records it
  (a rewritten `.olean`'s `-42` is written as is, and the checker's parser refuses it);
- a record the compiler marked `kernel` (the kernel refuses the module) mentions the constant
  `kernel-refuses`, which nothing declares, in its first declaration: the checker's replay
  refuses it there.
The imported constants are `simulated-imports.json`'s (beside the scenario, as the stand-in checker
reads them); `standard_imports()` writes the stand-ins' default one.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from compiler import OLEAN_MARKER  # type: ignore[import-not-found]  # run as a script
from exporter import Exporter  # type: ignore[import-not-found]  # run as a script

STATEMENT_HEAD = "Standin.Statement"
PROOF_HEAD = "Standin.Proof"
KERNEL_REFUSES = "kernel-refuses"
DEFAULT_AXIOMS = ("propext",)
#: The axioms the default imports hold (each reaching itself).
IMPORTED_AXIOMS = (
    "propext",
    "Classical.choice",
    "Quot.sound",
    "sorryAx",
    "Lean.ofReduceBool",
    "Lean.trustCompiler",
)
_CANONICAL = re.compile(r"0|[1-9][0-9]*")
MAX_OPTION_DIGITS = 10
_PRIVATE = re.compile(r"^_private\.(?P<module>.+?)\.0\.")


class Refusal(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def parser() -> argparse.ArgumentParser:
    """The real exporter's command line: only `--flag value`, each of the three once."""
    parser = argparse.ArgumentParser(
        prog="proofgate-export (stand-in)", add_help=False, allow_abbrev=False
    )
    for flag in ("--olean", "--module", "--out"):
        parser.add_argument(flag, required=True, action="append")
    parser.add_argument("--option", action="append", default=[])
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    if any(a.startswith("--") and "=" in a for a in argv):
        raise Refusal("bad_arguments", "give each flag's value as the next argument")
    args, unknown = parser().parse_known_args(argv)
    if unknown:
        raise Refusal("bad_arguments", f"unknown arguments {unknown}")
    for flag in ("olean", "module", "out"):
        values = getattr(args, flag)
        if len(values) != 1 or not values[0]:
            raise Refusal("bad_arguments", f"--{flag} must be given once, not empty")
        setattr(args, flag, values[0])
    return args


def option_value(text: str) -> bool | int | str:
    """`true`/`false`, a canonical numeral of at most 10 digits, else a string (as Export.lean)."""
    if text in ("true", "false"):
        return text == "true"
    if _CANONICAL.fullmatch(text):
        if len(text) > MAX_OPTION_DIGITS:
            raise Refusal(
                "bad_arguments", f"option value {text} has over {MAX_OPTION_DIGITS} digits"
            )
        return int(text)
    return text


def read_olean(path: str) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Refusal("bad_olean", f"cannot read {path}: {exc.strerror}") from exc
    if not data.startswith(OLEAN_MARKER):
        raise Refusal("bad_olean", f"{path} is not an .olean of this toolchain")
    compiled: dict[str, Any] = json.loads(data[len(OLEAN_MARKER) :])
    return compiled


def resolve(
    identifiers: list[str], earlier: dict[str, str], imported: set[str], own: str
) -> list[str]:
    """The constants `identifiers` name: an earlier declaration of the module (full or last
    name) or an imported constant; anything else is a bound variable or a keyword."""
    found: list[str] = []
    for identifier in identifiers:
        name = earlier.get(identifier) or (identifier if identifier in imported else None)
        if name is not None and name != own and name not in found:
            found.append(name)
    return found


def export_module(
    compiled: dict[str, Any],
    *,
    module: str,
    options: dict[str, Any],
    imported: set[str],
) -> bytes:
    e = Exporter(module=module, imports=tuple(compiled["imports"]), options=options)
    axioms = compiled.get("axioms")
    axioms = list(DEFAULT_AXIOMS) if axioms is None else axioms
    earlier: dict[str, str] = {}
    kernel = compiled.get("kernel")
    for position, d in enumerate(compiled["declarations"]):
        name = d["name"].replace("«", "").replace("»", "")  # `«a-b»` is the component a-b
        uses = resolve(d["uses"], earlier, imported, name)
        mentions = resolve(d["mentions"], earlier, imported, name)
        type_ = e.app(
            e.const(STATEMENT_HEAD), e.string(d["statement"]), *(e.const(c) for c in uses)
        )
        parts = [e.string(d["text_sha256"]), *(e.const(c) for c in mentions)]
        if d["kind"] == "theorem":
            parts += [e.const(a) for a in axioms]
        parts += [e.nat(literal) for literal in d.get("literals", [])]
        if kernel and position == 0:
            parts.append(e.const(KERNEL_REFUSES))
        value = e.app(e.const(PROOF_HEAD), *parts)
        kind = d["kind"]
        if kind == "theorem":
            e.theorem(name, type_, value)
        elif kind == "definition":
            e.definition(name, type_, value)
        elif kind == "opaque":
            e.opaque(name, type_, value)
        elif kind == "axiom":
            e.axiom(name, type_)
        else:  # an inductive type, structure or class: its type only, no constructors modelled
            e.inductive(name, type_, [])
        earlier[name] = name
        earlier.setdefault(name.rsplit(".", 1)[-1], name)
    return e.export()


def check_private(compiled: dict[str, Any], module: str) -> None:
    """Every private constant's name carries the module it was made under (`_private.M.0.x`),
    which must be `module` (`module_mismatch`): for an .olean, which stores no module name, the
    only evidence of it; the stand-in elaborator (elab.py) applies it too, as the writer they share
    does (Proofgate/ExportWrite.lean, `checkConstants`)."""
    for d in compiled["declarations"]:
        private = _PRIVATE.match(d["name"])
        if private and private["module"] != module:
            raise Refusal("module_mismatch", f"{d['name']} was compiled as {private['module']}")


def imported_names(scenario_path: Path) -> set[str]:
    """The imported constants: `simulated-imports.json` beside the scenario (none without it)."""
    imports_file = scenario_path.parent / "simulated-imports.json"
    if not imports_file.exists():
        return set()
    return {c["name"] for c in json.loads(imports_file.read_text("utf-8"))["constants"]}


def standard_imports() -> dict[str, Any]:
    """The default `simulated-imports.json`: the heads the stand-in exporter builds terms from,
    and the usual axioms, as an "imported module" exports them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import export_checker  # type: ignore[import-not-found]

    e = Exporter(module="Standin")
    sort = e.sort(1)
    for head in (STATEMENT_HEAD, PROOF_HEAD):
        e.definition(head, sort, e.sort(0))
    for axiom in IMPORTED_AXIOMS:
        e.axiom(axiom, sort)
    export = export_checker.export_rules.parse_export(e.export())
    entries = []
    for d in export.declarations:
        reaches = [d.name] if d.name in IMPORTED_AXIOMS else []
        entries.append(export_checker.imported_entry(export, d, reaches))
    return {"constants": entries}


def main(argv: list[str]) -> int:
    scenario_path = Path(argv[0])
    try:
        args = parse(argv[1:])
        options: dict[str, Any] = {}
        for pair in args.option:
            key, equals, value = pair.partition("=")
            if not equals or not key:
                raise Refusal("bad_arguments", f"--option {pair!r} is not NAME=VALUE")
            options[key] = option_value(value)
        compiled = read_olean(args.olean)
        check_private(compiled, args.module)
        imported = imported_names(scenario_path)
        data = export_module(compiled, module=args.module, options=options, imported=imported)
        Path(args.out).write_bytes(data)
    except Refusal as refusal:
        print(json.dumps({"error": refusal.code, "detail": str(refusal)}))
        return 1
    except SystemExit:  # argparse's own refusal
        print(json.dumps({"error": "bad_arguments", "detail": " ".join(argv[1:])[:200]}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
