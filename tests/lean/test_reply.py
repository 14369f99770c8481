"""The typed REPL reply: every recorded real reply reads, `has_errors` is the one rule, and a reply
of the wrong shape is refused (by the driver, as a protocol error that kills the worker)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.exceptions import ReplProtocolError
from proofgate.lean.repl import ReplProcess
from proofgate.lean.reply import (
    ReplMessage,
    ReplPos,
    ReplRefusal,
    ReplReply,
    ReplSorry,
    parse_reply,
)
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits, SpawnSpec
from tests.conftest import TRANSCRIPTS_DIR


def _recorded() -> list[tuple[str, Any]]:
    """(file, value) for every reply in the recorded real-REPL transcripts."""
    found = []
    for path in sorted(TRANSCRIPTS_DIR.glob("*/*.expected.out")):
        for chunk in path.read_text("utf-8").split("\n\n"):
            if chunk.strip():
                found.append((f"{path.parent.name}/{path.name}", json.loads(chunk)))
    return found


def test_every_recorded_reply_reads_and_has_errors_is_any_error_message() -> None:
    recorded = _recorded()
    if not recorded:
        pytest.skip(f"no transcripts at {TRANSCRIPTS_DIR}")
    assert len(recorded) >= 200
    refusals = 0
    for name, value in recorded:
        reply = parse_reply(value)
        if isinstance(reply, ReplRefusal):
            refusals += 1
            assert set(value) == {"message"} and reply.message == value["message"], name
            continue
        severities = [m["severity"] for m in value.get("messages", [])]
        assert reply.has_errors == ("error" in severities), name
        assert [m.severity for m in reply.messages] == severities, name
        assert reply.env == value.get("env") and reply.proof_state == value.get("proofState")
        assert [s.proof_state for s in reply.sorries] == [
            s.get("proofState") for s in value.get("sorries", [])
        ]
        assert list(reply.goals) == value.get("goals", [])
        assert reply.raw == value, name
    assert refusals >= 5


def test_a_command_reply_reads_into_its_fields() -> None:
    reply = ReplReply.parse(
        {
            "env": 3,
            "messages": [
                {
                    "severity": "error",
                    "pos": {"line": 1, "column": 23},
                    "endPos": None,
                    "data": "type mismatch",
                },
                {"severity": "warning", "pos": {"line": 1, "column": 8}, "data": "unused"},
            ],
            "sorries": [{"goal": "⊢ Nat", "proofState": 0, "pos": {"line": 2, "column": 1}}],
            "tactics": [
                {
                    "tactic": "exact rfl",
                    "goals": "⊢ 1 = 1",
                    "proofState": 1,
                    "pos": {"line": 2, "column": 2},
                    "endPos": {"line": 2, "column": 11},
                    "usedConstants": ["Eq.refl"],
                }
            ],
            "infotree": [{"node": "kept raw"}],
        }
    )
    assert reply.env == 3 and reply.has_errors
    assert reply.errors == (
        ReplMessage(severity="error", data="type mismatch", pos=ReplPos(line=1, column=23)),
    )
    assert reply.sorries == (ReplSorry(goal="⊢ Nat", proof_state=0, pos=ReplPos(2, 1)),)
    assert reply.tactics[0].used_constants == ("Eq.refl",)
    assert reply.raw["infotree"] == [{"node": "kept raw"}]


def test_a_tactic_without_used_constants_has_them_unknown_not_empty() -> None:
    # Before v4.14.0 the REPL prints no `usedConstants`: the reply says unknown (None), which the
    # steps of a proof pass on as unknown; an empty list printed is none used.
    tactic = {"tactic": "rfl", "goals": "⊢ 1 = 1", "proofState": 0}
    absent, empty = (
        ReplReply.parse({"env": 0, "tactics": [tactic | extra]}).tactics[0]
        for extra in ({}, {"usedConstants": []})
    )
    assert absent.used_constants is None and empty.used_constants == ()


def test_a_tactic_reply_and_a_refusal() -> None:
    step = ReplReply.parse(
        {"proofState": 4, "goals": ["⊢ True"], "proofStatus": "Incomplete: open goals remain"}
    )
    assert step.proof_state == 4 and step.goals == ("⊢ True",) and not step.has_errors
    assert step.proof_status == "Incomplete: open goals remain" and step.env is None
    assert parse_reply({"message": "Unknown environment."}) == ReplRefusal("Unknown environment.")
    with pytest.raises(ValueError, match="refused the command: Unknown proof state"):
        ReplReply.parse({"message": "Unknown proof state."})


def test_trace_is_a_severity_but_not_an_error() -> None:
    message = {"severity": "trace", "pos": {"line": 1, "column": 0}, "data": "[Meta] ..."}
    assert not ReplReply.parse({"env": 0, "messages": [message]}).has_errors


_MESSAGE = {"severity": "error", "pos": {"line": 1, "column": 0}, "data": "x"}


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ([{"env": 0}], "the reply is not a JSON object"),
        ({"env": "0"}, "env is not a natural number"),
        ({"env": -1}, "env is not a natural number"),
        ({"env": True}, "env is not a natural number"),
        ({"env": 0, "messages": None}, "messages is not a list"),
        ({"env": 0, "messages": {"0": _MESSAGE}}, "messages is not a list"),
        ({"env": 0, "messages": ["unknown identifier"]}, "messages[0] is not a JSON object"),
        ({"env": 0, "messages": [{**_MESSAGE, "severity": "bogus"}]}, "messages[0].severity"),
        ({"env": 0, "messages": [{**_MESSAGE, "severity": None}]}, "messages[0].severity"),
        ({"env": 0, "messages": [{**_MESSAGE, "data": 5}]}, "messages[0].data is not a string"),
        (
            {"env": 0, "messages": [_MESSAGE, {**_MESSAGE, "pos": {"line": "1", "column": 0}}]},
            "messages[1].pos.line is not a natural number",
        ),
        ({"env": 0, "messages": [{**_MESSAGE, "endPos": [1, 0]}]}, "messages[0].endPos"),
        ({"env": 0, "sorries": [{"proofState": 0}]}, "sorries[0].goal is not a string"),
        ({"env": 0, "sorries": [{"goal": "⊢ P", "proofState": "0"}]}, "sorries[0].proofState"),
        ({"env": 0, "tactics": [{"tactic": "rfl", "goals": 1}]}, "tactics[0].goals"),
        ({"proofState": 0, "goals": "⊢ True"}, "goals is not a list"),
        ({"proofState": 0, "goals": [["⊢ True"]]}, "goals[0] is not a string"),
        ({"proofState": 0, "goals": [], "proofStatus": 1}, "proofStatus is not a string"),
        ({"message": None}, "message is not a string"),
    ],
)
def test_a_malformed_reply_is_refused_naming_the_field(value: object, names: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(names)}"):
        parse_reply(value)


# --- in the driver: a malformed reply is a protocol error (behaviour pinned) ---------------------

_ANSWERS = """
import sys
reply = sys.argv[1]
while True:
    lines = []
    while (line := sys.stdin.readline()) not in ("\\n", ""):
        lines.append(line)
    if not lines:
        break
    sys.stdout.write(reply + "\\n\\n")
    sys.stdout.flush()
"""


async def _answering(tmp_path: Path, reply: object) -> ReplProcess:
    """A process that answers every command with `reply` (whatever the command was)."""
    spec = SpawnSpec(argv=[sys.executable, "-c", _ANSWERS, json.dumps(reply)], cwd=tmp_path)
    return await ReplProcess.start(Launch(ProcessGroupSpawner(), spec, Limits()))


@pytest.mark.parametrize(
    "reply",
    [
        # `messages: null`: the service and the probes read it as "no errors", the pool's header
        # check and the verdict failed on it with a TypeError.
        {"env": 0, "messages": None},
        # An entry that is not an object was skipped: an error in it went unseen.
        {"env": 0, "messages": ["error: unknown identifier"]},
        # An unknown severity was read as info, never as an error.
        {"env": 0, "messages": [{**_MESSAGE, "severity": "fatal"}]},
        # An error whose text is not a string: the header check called it an error, the session
        # check and the feedback printed the number.
        {"env": 0, "messages": [{**_MESSAGE, "data": 7}]},
    ],
)
async def test_the_driver_kills_a_worker_that_answers_a_malformed_reply(
    tmp_path: Path, reply: dict[str, Any]
) -> None:
    repl = await _answering(tmp_path, reply)
    try:
        with pytest.raises(ReplProtocolError, match="malformed") as caught:
            await repl.command("def x := 1", timeout=10)
        assert not repl.alive and repl.failure is caught.value
    finally:
        await repl.close()


async def test_the_driver_returns_a_well_formed_reply_typed(tmp_path: Path) -> None:
    repl = await _answering(tmp_path, {"env": 0, "messages": [_MESSAGE]})
    try:
        reply = await repl.command("def x := 1", timeout=10)
        assert isinstance(reply, ReplReply) and reply.env == 0 and reply.has_errors
        assert repl.alive
    finally:
        await repl.close()
