"""`proofgate-elab` with real Lean (docs/audit-design.md, step 6): an `Init`-only body elaborated by
`lake exe proofgate-elab`, its reply read as the REPL's, its export read by proofgate's strict
reader and replayed by the trusted checker, and its constants compared with those `lean -o` plus
`proofgate-export` give for the same text.

Skipped where no toolchain is installed (the `lean` marker's standard reason); the real-Lean
workflow runs it after `lake build ... proofgate-export proofgate-elab`. The elaborator
(`Proofgate/Elab.lean`) has never run where it was written, so these are its first checks.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.lean.reply import ReplReply
from proofgate.verify.contract import ExportAuditReport, parse_report
from proofgate.verify.export import Export, parse_export

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

PROJECT = SOURCE_ROOT
MODULE = "ProofgateSubmission"
CHECKER = PROJECT / ".lake" / "build" / "bin" / "proofgate-checker"
#: Init only (the header is empty: `Init` is imported implicitly), so each run takes seconds.
BODY = """\
inductive Tree where
  | leaf : Tree
  | node : List Tree → Tree

structure Point where
  x : Nat
  y : Nat

def double (n : Nat) : Nat := 2 * n

private def secret : Nat := 41

theorem double_two : double 2 = 4 := rfl

theorem uses_secret : secret + 1 = 42 := by decide

def byRecursion : Nat → Nat
  | 0 => 0
  | n + 1 => byRecursion n + 2
"""
OPTIONS = ["autoImplicit=false", "maxHeartbeats=400000"]


def _run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _elab(
    directory: Path, body: str, *options: str, header: str = ""
) -> subprocess.CompletedProcess[str]:
    directory.mkdir(parents=True, exist_ok=True)
    request = directory / "request.json"
    request.write_text(json.dumps({"header": header, "body": body}), encoding="utf-8")
    argv = ["lake", "exe", "proofgate-elab", "--request", str(request)]
    argv += ["--reply", str(directory / "reply.json"), "--export", str(directory / "out.ndjson")]
    for pair in options:
        argv += ["--option", pair]
    return _run(argv)


def _reply(directory: Path) -> dict[str, Any]:
    value = json.loads((directory / "reply.json").read_text("utf-8"))
    assert isinstance(value, dict) and set(value) <= {"header", "body"}, value
    return value


@pytest.fixture(scope="module")
def elaborated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Export]:
    directory = tmp_path_factory.mktemp("elab")
    result = _elab(directory, BODY, *OPTIONS)
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    reply = _reply(directory)
    for part in ("header", "body"):
        assert not ReplReply.parse(reply[part]).has_errors, reply
    parsed = parse_export((directory / "out.ndjson").read_bytes())
    assert isinstance(parsed, Export), parsed
    return directory / "out.ndjson", parsed


def test_the_export_is_under_the_main_module_with_the_typed_options(
    elaborated: tuple[Path, Export],
) -> None:
    _, export = elaborated
    assert export.meta.module == MODULE
    assert export.meta.imports == ("Init",)
    assert export.meta.options == {"autoImplicit": False, "maxHeartbeats": 400000}
    names = {d.name for d in export.declarations}
    assert {"Tree", "Tree.rec_1", "Point.x", "double", "double_two", "byRecursion"} <= names
    assert f"_private.{MODULE}.0.secret" in names  # the main module was set before elaborating


def test_the_constants_are_those_a_compile_and_export_of_the_same_text_give(
    elaborated: tuple[Path, Export], tmp_path: Path
) -> None:
    """Design section 10, question 4 on a small module: `toKernelEnv`'s stage 2 after the last
    command is the set `mkModuleData` writes, auxiliary and equation declarations included."""
    _, export = elaborated
    source = tmp_path / f"{MODULE}.lean"
    source.write_text(BODY, encoding="utf-8")
    olean, out = tmp_path / f"{MODULE}.olean", tmp_path / "compiled.ndjson"
    compiled = _run(["lake", "env", "lean", "-R", str(tmp_path), "-o", str(olean), str(source)])
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr[-4000:]
    argv = ["lake", "exe", "proofgate-export", "--olean", str(olean), "--module", MODULE]
    exported = _run([*argv, "--out", str(out)])
    assert exported.returncode == 0, (exported.stdout, exported.stderr[-4000:])
    reference = parse_export(out.read_bytes())
    assert isinstance(reference, Export), reference
    assert {d.name for d in export.declarations} == {d.name for d in reference.declarations}


def test_the_trusted_checker_replays_the_export(elaborated: tuple[Path, Export]) -> None:
    path, _ = elaborated
    argv = ["lake", "env", str(CHECKER), "--submission-export", str(path), "--module-root", "Init"]
    for axiom in ("propext", "Classical.choice", "Quot.sound"):
        argv += ["--axiom", axiom]
    result = _run(argv)
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    report = parse_report(result.stdout)
    assert isinstance(report, ExportAuditReport), report
    assert report.outcome.value == "ok", (report.outcome, report.detail)


def test_an_error_in_the_body_is_a_message_and_no_export(tmp_path: Path) -> None:
    body = "theorem broken : 1 = 2 := rfl\n"
    result = _elab(tmp_path, body)
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    errors = ReplReply.parse(_reply(tmp_path)["body"]).errors
    assert errors and errors[0].pos is not None and errors[0].pos.line == 1
    assert not (tmp_path / "out.ndjson").exists()


def test_an_unknown_option_is_an_error_of_the_header(tmp_path: Path) -> None:
    result = _elab(tmp_path, BODY, "noSuchOption=true")
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    reply = _reply(tmp_path)
    assert "body" not in reply
    errors = ReplReply.parse(reply["header"]).errors
    assert any("noSuchOption" in m.data for m in errors), errors
    assert not (tmp_path / "out.ndjson").exists()


def test_a_bad_request_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text('{"header": ""}', encoding="utf-8")
    argv = ["lake", "exe", "proofgate-elab", "--request", str(request)]
    argv += ["--reply", str(tmp_path / "reply.json"), "--export", str(tmp_path / "out.ndjson")]
    result = _run(argv)
    assert result.returncode == 1
    refusal = json.loads(result.stdout.strip().splitlines()[-1])
    assert refusal["error"] == "bad_request", refusal
    assert not (tmp_path / "reply.json").exists() and not (tmp_path / "out.ndjson").exists()
