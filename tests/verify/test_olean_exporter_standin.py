"""The stand-in exporter (tests/standins/olean_exporter.py) keeps the real exporter's rules
(Proofgate/Export.lean's command line and refusals), so a wrong call fails here first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.verify.export import Export, LeanPin, parse_export

STANDINS = Path(__file__).resolve().parents[1] / "standins"
SOURCE = (
    "import Mathlib\n\nprivate def helper : Nat := 7\n\n"
    "theorem t1 (a b : Nat) : a + b = b + a := Nat.add_comm a b\n"
)


def compile_module(tmp_path: Path, module: str = "ProofgateSubmission") -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    source = root / f"{module}.lean"
    source.write_text(SOURCE, "utf-8")
    olean = root / f"{module}.olean"
    compiler = [sys.executable, str(STANDINS / "compiler.py"), "--json", "-R", str(root)]
    subprocess.run([*compiler, "-o", str(olean), str(source)], check=True, timeout=60)
    return olean


def export(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path / "scenario.json"
    scenario.write_text("{}", "utf-8")
    command = [sys.executable, str(STANDINS / "olean_exporter.py"), str(scenario), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_an_honest_module_exports_what_the_reader_accepts(tmp_path: Path) -> None:
    olean, out = compile_module(tmp_path), tmp_path / "out.ndjson"
    done = export(
        tmp_path,
        "--olean",
        str(olean),
        "--module",
        "ProofgateSubmission",
        "--out",
        str(out),
        "--option",
        "autoImplicit=false",
        "--option",
        "maxHeartbeats=400000",
        "--option",
        "pp.all=007",
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout
    parsed = parse_export(out.read_bytes(), lean=LeanPin("4.32.0"))
    assert isinstance(parsed, Export), parsed
    assert parsed.meta.options == {"autoImplicit": False, "maxHeartbeats": 400000, "pp.all": "007"}
    names = [d.name for d in parsed.declarations]
    assert names == ["_private.ProofgateSubmission.0.helper", "t1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--mod", "ProofgateSubmission"],  # an abbreviation
        ["--module=ProofgateSubmission"],  # the = form
        ["--module", "ProofgateSubmission", "--module", "Other"],  # twice
        ["--module", "ProofgateSubmission", "--option", "maxHeartbeats=12345678901"],
        ["--module", "ProofgateSubmission", "--option", "novalue"],
    ],
)
def test_a_bad_command_line_is_refused_and_writes_nothing(tmp_path: Path, argv: list[str]) -> None:
    olean, out = compile_module(tmp_path), tmp_path / "out.ndjson"
    done = export(tmp_path, "--olean", str(olean), "--out", str(out), *argv)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == "bad_arguments"
    assert not out.exists()


def test_a_module_compiled_under_another_name_is_refused(tmp_path: Path) -> None:
    olean, out = compile_module(tmp_path, "Other"), tmp_path / "out.ndjson"
    done = export(
        tmp_path, "--olean", str(olean), "--module", "ProofgateSubmission", "--out", str(out)
    )
    assert done.returncode == 1
    refusal = json.loads(done.stdout)
    assert refusal["error"] == "module_mismatch" and "_private.Other.0.helper" in refusal["detail"]
    assert not out.exists()
