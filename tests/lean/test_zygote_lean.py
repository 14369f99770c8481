"""The real elaboration zygote, `proofgate-elab --zygote` (docs/audit-design.md, section 9, step 7),
started through `proofgate.lean.zygote.Zygote.start` as the service starts it: an `Init`-only
header imported once, then a child per body (an honest one, one with an error, two side by
side), each reply read as the service reads it and each export by proofgate's strict reader; a
child's feedback against the real REPL's recorded replies to the same files (messages, and
sorries with their goals); and a Mathlib zygote, as deployed. Latency and memory figures are
printed (`-s` shows them) and written under $PROOFGATE_LEAN_RESULTS, not asserted.

Skipped where no toolchain is installed (the `lean` marker's standard reason); the real-Lean
workflow runs it. The zygote's Lean side (`Proofgate/Elab.lean`'s zygote mode,
`Proofgate/Zygote.lean`) and its native shim (`Proofgate/native/zygote.c`) have never run with
real Lean where they were written, so these are their first checks. Unjailed here: the jailed
hostile children are `tests/lean/test_zygote.py`'s, on the stand-in.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.lean.reply import ReplReply
from proofgate.lean.zygote import ChildOutcome, Zygote
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits, SpawnSpec
from proofgate.sandbox.proctree import ProcessTree
from proofgate.verify.export import Export, parse_export

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

PROJECT = SOURCE_ROOT
MODULE = "ProofgateSubmission"
ELAB = PROJECT / ".lake" / "build" / "bin" / "proofgate-elab"
#: Init only: the header is empty (`Init` is imported implicitly), as in test_elab_lean.py.
HEADER = ""
OPTIONS = ["autoImplicit=false", "maxHeartbeats=400000"]
BODY = """\
structure Point where
  x : Nat
  y : Nat

def double (n : Nat) : Nat := 2 * n

private def secret : Nat := 41

theorem double_two : double 2 = 4 := rfl

theorem uses_secret : secret + 1 = 42 := by decide
"""
BROKEN = "theorem broken : 1 = 2 := rfl\n"
CAPS = {"max_reply_bytes": 16 << 20, "max_export_bytes": 64 << 20}
CHILD_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def built() -> None:
    result = subprocess.run(
        ["lake", "build", "proofgate-elab"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])


def _spec(*options: str) -> SpawnSpec:
    argv = ["lake", "env", str(ELAB), "--zygote"]
    for pair in options:
        argv += ["--option", pair]
    return SpawnSpec(argv=argv, cwd=PROJECT)


async def _start(header: str = HEADER, *options: str) -> Zygote:
    return await Zygote.start(
        Launch(ProcessGroupSpawner(), _spec(*options), Limits()), ready_timeout=600, header=header
    )


@pytest.fixture
async def zygote(built: None) -> AsyncIterator[Zygote]:
    started = time.monotonic()
    running = await _start(HEADER, *OPTIONS)
    print(f"\nzygote start (import and header): {time.monotonic() - started:.2f} s")
    yield running
    await running.close()


async def _run(zygote: Zygote, body: str) -> ChildOutcome:
    request = json.dumps({"body": body}, ensure_ascii=False).encode()
    return await zygote.run(request, timeout=CHILD_TIMEOUT, **CAPS)


def _response(outcome: ChildOutcome) -> tuple[ReplReply, dict[str, Any]]:
    assert outcome.returncode == 0 and not outcome.timed_out, outcome
    said = json.loads(outcome.reply)
    assert isinstance(said, dict) and set(said) <= {"response", "refusal"}, said
    return ReplReply.parse(said["response"]), said


async def test_the_zygote_is_ready_with_a_clean_header(zygote: Zygote) -> None:
    assert zygote.ready and zygote.broken is None
    assert zygote.header_reply is not None
    assert not ReplReply.parse(zygote.header_reply).has_errors, zygote.header_reply


async def test_an_honest_child_replies_and_exports_under_the_main_module(zygote: Zygote) -> None:
    outcome = await _run(zygote, BODY)
    reply, said = _response(outcome)
    assert not reply.has_errors and "refusal" not in said, said
    export = parse_export(outcome.export)
    assert isinstance(export, Export), export
    assert export.meta.module == MODULE
    assert export.meta.imports == ("Init",)
    assert export.meta.options == {"autoImplicit": False, "maxHeartbeats": 400000}
    names = {d.name for d in export.declarations}
    assert {"Point", "Point.x", "double", "double_two", "uses_secret"} <= names
    assert f"_private.{MODULE}.0.secret" in names  # the main module was set before mkState
    assert zygote.process.returncode is None  # the zygote serves on


async def test_a_child_with_an_error_replies_it_and_exports_nothing(zygote: Zygote) -> None:
    outcome = await _run(zygote, BROKEN)
    reply, said = _response(outcome)
    assert reply.errors and reply.errors[0].pos is not None and reply.errors[0].pos.line == 1
    assert "refusal" not in said
    assert outcome.export == b""
    # the next child starts from the zygote's state, not from the broken one's
    again = await _run(zygote, "theorem broken : 1 = 1 := rfl\n")
    assert not _response(again)[0].has_errors
    assert isinstance(parse_export(again.export), Export)


async def test_children_side_by_side_see_only_their_own_body(zygote: Zygote) -> None:
    first, second = await asyncio.gather(
        _run(zygote, "theorem a_one : 1 = 1 := rfl\n"),
        _run(zygote, "theorem b_two : 2 = 2 := rfl\n"),
    )
    names = []
    for outcome in (first, second):
        assert not _response(outcome)[0].has_errors
        export = parse_export(outcome.export)
        assert isinstance(export, Export), export
        names.append({d.name for d in export.declarations})
    assert "a_one" in names[0] and "b_two" not in names[0]
    assert "b_two" in names[1] and "a_one" not in names[1]


async def test_a_header_with_an_error_is_a_zygote_that_is_not_ready(built: None) -> None:
    broken = await _start("import NoSuchModuleAnywhere")
    try:
        assert not broken.ready and broken.header_reply is not None
        assert ReplReply.parse(broken.header_reply).has_errors, broken.header_reply
    finally:
        await broken.close()


async def test_fork_latency_is_measured(zygote: Zygote) -> None:
    """Printed, not asserted (design section 11, S3 measures it properly): the wall time of a
    whole child (fork, a one-line body, reply, export, exit) seen from the service, one after
    the other."""
    times = []
    for i in range(20):
        started = time.monotonic()
        outcome = await _run(zygote, f"theorem t{i} : {i} + 1 = {i + 1} := rfl\n")
        times.append((time.monotonic() - started) * 1000)
        assert not _response(outcome)[0].has_errors
    print(
        f"\nzygote child, one-line body, 20 in a row: p50 {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms"
    )


#: Files whose real REPL replies were recorded (v4.32.0, the pinned toolchain), each the first
#: command of a transcript in shared/lean-repl-transcripts/core (named), with what that REPL said:
#: its messages, and its sorries without their proof states (a child keeps none).
REPL_SAID = {
    "dup_sorries": (
        "theorem thm1 : 1 = 1 := sorry",
        [{"severity": "warning", "pos": {"line": 1, "column": 8},
          "endPos": {"line": 1, "column": 12}, "data": "declaration uses `sorry`"}],
        [{"pos": {"line": 1, "column": 24}, "endPos": {"line": 1, "column": 29},
          "goal": "⊢ 1 = 1"}],
    ),
    "have_by_sorry": (
        "theorem foo (x : Int) : x = x := by\n  have h : x = 1 := by sorry",
        [{"severity": "error", "pos": {"line": 1, "column": 33},
          "endPos": {"line": 2, "column": 28},
          "data": "unsolved goals\nx : Int\nh : x = 1\n⊢ x = x"}],
        [{"pos": {"line": 2, "column": 23}, "endPos": {"line": 2, "column": 28},
          "goal": "x : Int\n⊢ x = 1"}],
    ),
    "invalid_tactic": (
        "theorem my_theorem (x : Nat) : x = x := by sorry",
        [{"severity": "warning", "pos": {"line": 1, "column": 8},
          "endPos": {"line": 1, "column": 18}, "data": "declaration uses `sorry`"}],
        [{"pos": {"line": 1, "column": 43}, "endPos": {"line": 1, "column": 48},
          "goal": "x : Nat\n⊢ x = x"}],
    ),
    "app_type_mismatch": (
        "example : 1 = 0 := by\n  cases 1\n  rfl\n  apply ?succ",
        [{"severity": "error", "pos": {"line": 1, "column": 0},
          "endPos": {"line": 1, "column": 7},
          "data": "(kernel) declaration has metavariables '_example'"}],
        [],
    ),
    "incomplete": (
        "def f : Nat := by apply Nat.succ",
        [{"severity": "error", "pos": {"line": 1, "column": 15},
          "endPos": {"line": 1, "column": 32}, "data": "unsolved goals\n⊢ Nat"}],
        [],
    ),
}  # fmt: skip


@pytest.fixture
async def plain_zygote(built: None) -> AsyncIterator[Zygote]:
    """Lean's default options, as the recorded REPL ran."""
    running = await _start(HEADER)
    yield running
    await running.close()


@pytest.mark.parametrize("name", sorted(REPL_SAID))
async def test_a_childs_feedback_is_what_the_repl_said(plain_zygote: Zygote, name: str) -> None:
    """The feedback of a zygote child (its reply is the check's feedback, where the REPL pool's
    was) against the real REPL's recorded reply to the same file: the same messages, and the
    same sorries (position and goal)."""
    text, messages, sorries = REPL_SAID[name]
    outcome = await _run(plain_zygote, text)
    _, said = _response(outcome)
    response = said["response"]
    assert response.get("messages", []) == messages, response
    child_sorries = [
        {key: value for key, value in sorry.items() if key != "proofState"}
        for sorry in response.get("sorries", [])
    ]
    assert child_sorries == sorries, response


#: Where the real-Lean workflow keeps its figures (read at import: an autouse fixture clears
#: PROOFGATE_* during each test); unset, the figures are printed only.
RESULTS = os.environ.get("PROOFGATE_LEAN_RESULTS")
MATHLIB_PROOF = "theorem t{i} (a b : ℕ) : a + b + {i} = b + a + {i} := by omega\n"


async def test_a_mathlib_zygote_forks_children_that_check_mathlib_proofs(built: None) -> None:
    """The deployed case: `import Mathlib` once, then a child per check. What design section 8
    leaves open is measured and printed (and written under $PROOFGATE_LEAN_RESULTS): the
    zygote's start, its private memory, and a whole child's wall time (fork, elaboration,
    reply, export, exit) one after the other. Asserted: each child's proof has no error and
    its export is strict-readable and imports Mathlib."""
    started = time.monotonic()
    zygote = await _start("import Mathlib", *OPTIONS)
    start_seconds = time.monotonic() - started
    try:
        assert zygote.ready, zygote.header_reply
        # `lake env` runs the zygote as its child: the largest private memory in the tree
        zygote_private = max(ProcessTree(zygote.process.pid).look().private_by_pid.values())
        times = []
        for i in range(10):
            began = time.monotonic()
            outcome = await _run(zygote, MATHLIB_PROOF.format(i=i))
            times.append((time.monotonic() - began) * 1000)
            reply, _ = _response(outcome)
            assert not reply.has_errors, reply
            export = parse_export(outcome.export)
            assert isinstance(export, Export), export
            assert export.meta.imports == ("Mathlib",)
    finally:
        await zygote.close()
    figures = {
        "zygote_start_seconds": round(start_seconds, 2),
        "zygote_private_mib": zygote_private >> 20,
        "child_ms_p50": round(statistics.median(times), 1),
        "child_ms_min": round(min(times), 1),
        "child_ms_max": round(max(times), 1),
        "children": len(times),
    }
    print(f"\nzygote with Mathlib: {json.dumps(figures)}")
    if RESULTS:
        Path(RESULTS).mkdir(parents=True, exist_ok=True)
        (Path(RESULTS) / "zygote-mathlib.json").write_text(json.dumps(figures, indent=2) + "\n")
