"""The stand-in elaborator (tests/standins/elab.py) keeps the real one's rules (Proofgate/Elab.lean:
its command line, request, reply shape, refusals, and no export when a message is an error), so a
wrong call fails here first. It is built on the stand-in compiler and exporter: what they refuse,
it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.verify.export import Export, LeanPin, parse_export

STANDINS = Path(__file__).resolve().parents[1] / "standins"
HEADER = "import Mathlib"
BODY = (
    "\nprivate def helper : Nat := 7\n\n"
    "theorem t1 (a b : Nat) : a + b = b + a := Nat.add_comm a b\n"
)


def elab(
    tmp_path: Path, *extra: str, request: Any = None, raw: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """One stand-in run on `request` (default: HEADER and BODY), files in `tmp_path`."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text("{}", "utf-8")
    path = tmp_path / "request.json"
    if raw is None:
        raw = json.dumps(request or {"header": HEADER, "body": BODY}).encode()
    path.write_bytes(raw)
    argv = ["--request", str(path), "--reply", str(tmp_path / "reply.json")]
    argv += ["--export", str(tmp_path / "out.ndjson"), *extra]
    command = [sys.executable, str(STANDINS / "elab.py"), str(scenario), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def reply(tmp_path: Path) -> dict[str, Any]:
    value = json.loads((tmp_path / "reply.json").read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def refusal(done: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    """The refusal's code; neither file may be left behind."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    value = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(value) == {"error", "detail"}, value
    assert not (tmp_path / "reply.json").exists() and not (tmp_path / "out.ndjson").exists()
    return str(value["error"])


def test_a_clean_body_gets_an_empty_reply_and_an_export_under_the_main_module(
    tmp_path: Path,
) -> None:
    done = elab(tmp_path, "--option", "autoImplicit=false", "--option", "maxHeartbeats=400000")
    assert done.returncode == 0 and done.stdout == "", (done.stdout, done.stderr)
    assert reply(tmp_path) == {"header": {"env": 0}, "body": {"env": 0}}
    parsed = parse_export((tmp_path / "out.ndjson").read_bytes(), lean=LeanPin("4.32.0"))
    assert isinstance(parsed, Export), parsed
    assert parsed.meta.module == "ProofgateSubmission" and parsed.meta.imports == ("Mathlib",)
    assert parsed.meta.options == {"autoImplicit": False, "maxHeartbeats": 400000}
    names = {d.name for d in parsed.declarations}
    assert names == {"_private.ProofgateSubmission.0.helper", "t1"}


def test_an_error_in_the_body_is_a_message_at_its_body_line_and_no_export(tmp_path: Path) -> None:
    body = BODY + "-- standin-compiler: error simp_all failed\n"
    done = elab(tmp_path, request={"header": HEADER, "body": body})
    assert done.returncode == 0, (done.stdout, done.stderr)
    (message,) = reply(tmp_path)["body"]["messages"]
    assert message["severity"] == "error" and message["data"] == "simp_all failed"
    assert message["pos"] == {"line": 5, "column": 0}  # the body's 5th line, not the file's 6th
    assert not (tmp_path / "out.ndjson").exists()


def test_an_unknown_option_is_an_error_of_the_header_and_the_body_is_not_run(
    tmp_path: Path,
) -> None:
    done = elab(tmp_path, "--option", "noSuchOption=true")
    assert done.returncode == 0, (done.stdout, done.stderr)
    value = reply(tmp_path)
    assert "body" not in value
    (message,) = value["header"]["messages"]
    assert "unknown configuration option 'noSuchOption'" in message["data"]
    assert not (tmp_path / "out.ndjson").exists()


def test_a_constant_private_to_another_module_is_refused(tmp_path: Path) -> None:
    body = "\ntheorem _private.Other.0.t1 : True := trivial\n"
    done = elab(tmp_path, request={"header": HEADER, "body": body})
    assert refusal(done, tmp_path) == "module_mismatch"


@pytest.mark.parametrize(
    "extra",
    [("--option", "novalue"), ("--option", "n=12345678901"), ("--request=x",), ("--export", "2")],
)
def test_bad_arguments_are_refused(tmp_path: Path, extra: tuple[str, ...]) -> None:
    assert refusal(elab(tmp_path, *extra), tmp_path) == "bad_arguments"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"header": "import Mathlib"}',
        b'{"header": "import Mathlib", "body": "", "extra": 1}',
        b'{"header": 1, "body": ""}',
        b"[]",
        b'{"header": "", "body": "' + b"x" * (1 << 20) + b'"}',
    ],
)
def test_a_request_that_is_not_header_and_body_is_refused(tmp_path: Path, raw: bytes) -> None:
    assert refusal(elab(tmp_path, raw=raw), tmp_path) == "bad_request"
