"""`proofgate-export` with real Lean: a small module compiled by `lake env lean -o`, exported by
`lake exe proofgate-export`, and read by proofgate's strict reader (`parse_export`).

Skipped where no toolchain is installed (the `lean` marker's standard reason); the real-Lean
workflow runs it after `lake build repl proofgate-checker proofgate-export`. The exporter
(`Proofgate/Export.lean`) has never run where it was written, so these are its first checks:
every kind of record (axiom, definition, theorem, opaque, a mutual inductive block, a nested
inductive with its auxiliary recursor, a structure with projections), literals, `let`, universe
parameters, a private name, the options typed in the meta line, the refusals, and the same export
read back by the trusted checker's own parser and replayed through its kernel (contract 2).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.verify.contract import ExportAuditReport, parse_report
from proofgate.verify.export import Export, parse_export

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

PROJECT = SOURCE_ROOT
MODULE = "ProofgateSubmission"
CHECKER = PROJECT / ".lake" / "build" / "bin" / "proofgate-checker"
#: Init only: no Mathlib import, so the compile takes seconds.
SOURCE = """\
inductive Tree where
  | leaf : Tree
  | node : List Tree → Tree

structure Point where
  x : Nat
  y : Nat

mutual
  inductive Even : Nat → Prop
    | zero : Even 0
    | succ {n : Nat} : Odd n → Even (n + 1)
  inductive Odd : Nat → Prop
    | succ {n : Nat} : Even n → Odd (n + 1)
end

def double (n : Nat) : Nat := 2 * n

private def secret : Nat := 41

theorem double_two : double 2 = 4 := rfl

theorem add_zero' (a : Nat) : a + 0 = a := by
  show a + 0 = a
  rfl

def greeting : String := "hello, export"

def big : Nat := 123456789012345678901234567890

def letted : Nat := let k := 3; k + k

axiom my_axiom : True

opaque hidden : Nat

def Point.norm1 (p : Point) : Nat := p.x + p.y

universe u
def idU {α : Sort u} (a : α) : α := a
"""
OPTIONS = ["autoImplicit=false", "maxHeartbeats=400000", "pp.note=a=b", "weird=007"]
#: Each constant the module must declare, with the kind the reader gives it.
EXPECTED = {
    "Tree": "inductive",
    "Tree.leaf": "constructor",
    "Tree.node": "constructor",
    "Tree.rec": "recursor",
    "Tree.rec_1": "recursor",  # the auxiliary recursor of the nested `List Tree`
    "Point": "inductive",
    "Point.mk": "constructor",
    "Point.rec": "recursor",
    "Point.x": "definition",
    "Point.y": "definition",
    "Even": "inductive",
    "Odd": "inductive",
    "Even.zero": "constructor",
    "Even.succ": "constructor",
    "Odd.succ": "constructor",
    "Even.rec": "recursor",
    "Odd.rec": "recursor",
    "double": "definition",
    f"_private.{MODULE}.0.secret": "definition",
    "double_two": "theorem",
    "add_zero'": "theorem",
    "greeting": "definition",
    "big": "definition",
    "letted": "definition",
    "my_axiom": "axiom",
    "hidden": "opaque",
    "Point.norm1": "definition",
    "idU": "definition",
}


def _run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _export(
    olean: Path, out: Path, *extra: str, module: str = MODULE
) -> subprocess.CompletedProcess[str]:
    argv = ["lake", "exe", "proofgate-export", "--olean", str(olean), "--module", module]
    argv += ["--out", str(out), *extra]
    return _run(argv)


def _refusal(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The exporter's one JSON line (the last line of stdout: `lake exe` may print before it)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr[-2000:])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr[-2000:]
    value = json.loads(lines[-1])
    assert set(value) == {"error", "detail"} and isinstance(value["detail"], str), value
    return dict(value)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's .olean, compiled as the audit compiles (`-R` its own directory)."""
    directory = tmp_path_factory.mktemp("export-src")
    source = directory / f"{MODULE}.lean"
    source.write_text(SOURCE, encoding="utf-8")
    olean = directory / f"{MODULE}.olean"
    result = _run(["lake", "env", "lean", "-R", str(directory), "-o", str(olean), str(source)])
    assert result.returncode == 0 and olean.is_file(), result.stdout + result.stderr[-4000:]
    return olean


@pytest.fixture(scope="module")
def exported(compiled: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Export]:
    out = tmp_path_factory.mktemp("export-out") / "submission.ndjson"
    options = [arg for pair in OPTIONS for arg in ("--option", pair)]
    result = _export(compiled, out, *options)
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    parsed = parse_export(out.read_bytes())
    assert isinstance(parsed, Export), parsed
    return out, parsed


def test_the_meta_line_names_the_module_its_imports_and_typed_options(
    exported: tuple[Path, Export],
) -> None:
    _, export = exported
    meta = export.meta
    assert meta.format_version == 1
    assert meta.module == MODULE
    assert meta.imports == ("Init",)
    assert meta.options == {
        "autoImplicit": False,
        "maxHeartbeats": 400000,
        "pp.note": "a=b",
        "weird": "007",  # not a canonical numeral: a string
    }
    assert meta.lean_version and isinstance(meta.lean_githash, str)


def test_every_constant_is_exported_once_with_its_kind(exported: tuple[Path, Export]) -> None:
    _, export = exported
    kinds = {d.name: d.kind for d in export.declarations}
    assert len(kinds) == len(export.declarations)  # the reader refuses duplicates anyway
    missing = {name: kind for name, kind in EXPECTED.items() if kinds.get(name) != kind}
    assert not missing, {name: (kind, kinds.get(name)) for name, kind in missing.items()}


def test_an_inductive_block_is_one_record_with_its_recursors(exported: tuple[Path, Export]) -> None:
    _, export = exported

    def line(name: str) -> int:
        declaration = export.declaration(name)
        assert declaration is not None, name
        return declaration.line

    mutual = {line(n) for n in ("Even", "Odd", "Even.zero", "Even.succ", "Odd.succ", "Even.rec")}
    assert len(mutual) == 1 and line("Odd.rec") in mutual
    nested = {line(n) for n in ("Tree", "Tree.leaf", "Tree.node", "Tree.rec", "Tree.rec_1")}
    assert len(nested) == 1
    assert line("Point") == line("Point.rec") != line("Point.x")


def test_terms_keep_literals_lets_projections_and_universe_parameters(
    exported: tuple[Path, Export],
) -> None:
    _, export = exported
    assert export.exprs is not None and export.levels is not None
    nodes = set(export.exprs)
    assert ("natVal", "123456789012345678901234567890") in nodes
    assert ("strVal", "hello, export") in nodes
    tags = {node[0] for node in export.exprs}
    assert {"letE", "proj", "lam", "forallE", "app", "const", "sort", "bvar"} <= tags
    params = [export.name(node[1]) for node in export.levels if node[0] == "param"]
    assert "u" in params
    identity = export.declaration("idU")
    assert identity is not None and identity.level_params == ("u",)


def test_the_trusted_checker_reads_and_replays_the_export(
    exported: tuple[Path, Export],
) -> None:
    """Round trip: the checker's own parser (Proofgate/ExportParse.lean) on a real export, each
    record replayed through the kernel on top of `Init` (contract 2, a free compile)."""
    path, export = exported
    argv = ["lake", "env", str(CHECKER), "--submission-export", str(path), "--module-root", "Init"]
    for axiom in ("propext", "Classical.choice", "Quot.sound"):
        argv += ["--axiom", axiom]
    result = _run(argv)
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    report = parse_report(result.stdout)
    assert isinstance(report, ExportAuditReport), report
    assert report.outcome.value == "ok", (report.outcome, report.detail)
    listed = {d.name for d in report.declarations}
    assert {d.name for d in export.declarations} <= listed


def test_a_module_name_its_private_names_contradict_is_refused(
    compiled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "other.ndjson"
    refusal = _refusal(_export(compiled, out, module="SomethingElse"))
    assert refusal["error"] == "module_mismatch", refusal
    assert not out.exists()


def test_bad_arguments_and_an_unreadable_olean_are_refused(compiled: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson"
    missing_out = _run(["lake", "exe", "proofgate-export", "--olean", str(compiled)])
    assert _refusal(missing_out)["error"] == "bad_arguments"
    bad_option = _export(compiled, out, "--option", "novalue")
    assert _refusal(bad_option)["error"] == "bad_arguments"
    too_long = _export(compiled, out, "--option", "n=12345678901")
    assert _refusal(too_long)["error"] == "bad_arguments"
    not_olean = tmp_path / "not.olean"
    not_olean.write_bytes(b"not an olean")
    assert _refusal(_export(not_olean, out))["error"] == "bad_olean"
    assert not out.exists()
