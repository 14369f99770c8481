"""The real elaboration zygote, `proofgate-elab --zygote` (docs/audit-design.md, section 9, step 7),
started through `proofgate.lean.zygote.Zygote.start` as the service starts it: an `Init`-only
header imported once, then a child per body (an honest one, one with an error, two side by
side), each reply read as the service reads it and each export by proofgate's strict reader.
A fork-latency figure is printed (`-s` shows it), not asserted.

Skipped where no toolchain is installed (the `lean` marker's standard reason); the real-Lean
workflow runs it. The zygote's Lean side (`Proofgate/Elab.lean`'s zygote mode,
`Proofgate/Zygote.lean`) and its native shim (`Proofgate/native/zygote.c`) have never run with
real Lean where they were written, so these are their first checks. Unjailed here: the jailed
hostile children are `tests/lean/test_zygote.py`'s, on the stand-in.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.lean.reply import ReplReply
from proofgate.lean.zygote import ChildOutcome, Zygote
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Limits, SpawnSpec
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
        ProcessGroupSpawner(), _spec(*options), Limits(), ready_timeout=600, header=header
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
