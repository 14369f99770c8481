"""One REPL reply, typed: read once where the driver receives it (`proofgate.lean.repl`).

The shapes are the REPL's own (`REPL/JSON.lean` at v4.32.0; the transcripts in
shared/lean-repl-transcripts are recorded examples). A reply is either a refusal,
`{"message": ...}` with no `env` and no `proofState` (`ReplRefusal`), or a response (`ReplReply`):
a command's `env`, `messages`, `sorries`, `tactics`, `infotree`, or a tactic's `proofState`,
`goals`, `proofStatus`, `messages`, `sorries`, `traces`. Lists the REPL leaves out are empty here;
ids and positions are naturals. Keys proofgate does not read are kept in `raw` only, with the
whole value as the REPL printed it (the infotree, position mapping).

`parse_reply` raises `ValueError` naming the first field of the wrong type: the driver turns that
into its `ReplProtocolError`, as it does for output that is not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

__all__ = [
    "ReplMessage",
    "ReplPos",
    "ReplRefusal",
    "ReplReply",
    "ReplSeverity",
    "ReplSorry",
    "ReplTactic",
    "parse_reply",
]

#: The REPL's `Severity` (Lean's `information` is printed as "info").
ReplSeverity = Literal["trace", "info", "warning", "error"]
_SEVERITIES: frozenset[str] = frozenset({"trace", "info", "warning", "error"})

_T = TypeVar("_T")
#: Reads one JSON value; the string says where it stands in the reply, for the error.
_Reader = Callable[[object, str], _T]


@dataclass(frozen=True)
class ReplPos:
    """A place in the text the REPL ran: line from 1 (0: nowhere), column from 0, in codepoints."""

    line: int
    column: int


@dataclass(frozen=True)
class ReplMessage:
    """One of Lean's messages (`severity`, `pos`, `endPos`, `data`)."""

    severity: ReplSeverity
    data: str
    pos: ReplPos | None = None
    end_pos: ReplPos | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class ReplSorry:
    """A `sorry` Lean met: its goal, where, and the proof state a tactic can continue from."""

    goal: str
    proof_state: int | None = None
    pos: ReplPos | None = None
    end_pos: ReplPos | None = None


@dataclass(frozen=True)
class ReplTactic:
    """One tactic of an `allTactics` run."""

    tactic: str
    goals: str
    proof_state: int | None = None
    pos: ReplPos | None = None
    end_pos: ReplPos | None = None
    used_constants: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplRefusal:
    """The REPL refused the command (`{"message": "Unknown environment."}`, a tactic's
    `Lean error:`); the worker stays usable."""

    message: str


@dataclass(frozen=True)
class ReplReply:
    """A command's or a tactic's response; `raw` is the JSON object as the REPL printed it."""

    env: int | None = None
    messages: tuple[ReplMessage, ...] = ()
    sorries: tuple[ReplSorry, ...] = ()
    tactics: tuple[ReplTactic, ...] = ()
    proof_state: int | None = None
    goals: tuple[str, ...] = ()
    proof_status: str | None = None
    traces: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def errors(self) -> tuple[ReplMessage, ...]:
        """The messages of severity error, in order."""
        return tuple(m for m in self.messages if m.is_error)

    @property
    def has_errors(self) -> bool:
        """Lean reported an error: some message has severity error (the one rule everywhere)."""
        return any(m.is_error for m in self.messages)

    @classmethod
    def parse(cls, value: object) -> ReplReply:
        """`value` as a response; a refusal or a malformed value raises `ValueError`."""
        reply = parse_reply(value)
        if isinstance(reply, ReplRefusal):
            raise ValueError(f"the REPL refused the command: {reply.message}")
        return reply


def parse_reply(value: object) -> ReplReply | ReplRefusal:
    """Read one decoded JSON value the REPL printed; `ValueError` when it is not a reply."""
    reply = _object(value, "the reply")
    if "message" in reply and "env" not in reply and "proofState" not in reply:
        return ReplRefusal(_text(reply["message"], "message"))
    return ReplReply(
        env=_optional(reply, "env", _id),
        messages=_items(reply, "messages", _message),
        sorries=_items(reply, "sorries", _sorry),
        tactics=_items(reply, "tactics", _tactic),
        proof_state=_optional(reply, "proofState", _id),
        goals=_items(reply, "goals", _text),
        proof_status=_optional(reply, "proofStatus", _text),
        traces=_items(reply, "traces", _text),
        raw=reply,
    )


# --- reading JSON values ------------------------------------------------------------------


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not a JSON object: {_show(value)}")
    return cast(dict[str, Any], value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} is not a string: {_show(value)}")
    return value


def _id(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where} is not a natural number: {_show(value)}")
    return value


def _optional(obj: Mapping[str, Any], key: str, read: _Reader[_T], where: str = "") -> _T | None:
    """`obj[key]` read by `read`; absent or null is None (the REPL prints `Option` both ways)."""
    value = obj.get(key)
    return None if value is None else read(value, f"{where}{key}")


def _items(obj: Mapping[str, Any], key: str, read: _Reader[_T], where: str = "") -> tuple[_T, ...]:
    """The list `obj[key]`, each item read by `read`; absent is empty (the REPL omits empty lists)."""
    if key not in obj:
        return ()
    value = obj[key]
    if not isinstance(value, list):
        raise ValueError(f"{where}{key} is not a list: {_show(value)}")
    return tuple(read(item, f"{where}{key}[{index}]") for index, item in enumerate(value))


def _pos(value: object, where: str) -> ReplPos:
    pos = _object(value, where)
    return ReplPos(_id(pos.get("line"), f"{where}.line"), _id(pos.get("column"), f"{where}.column"))


def _message(value: object, where: str) -> ReplMessage:
    message = _object(value, where)
    severity = _text(message.get("severity"), f"{where}.severity")
    if severity not in _SEVERITIES:
        raise ValueError(f"{where}.severity is not one of {sorted(_SEVERITIES)}: {severity!r}")
    return ReplMessage(
        severity=cast(ReplSeverity, severity),
        data=_text(message.get("data"), f"{where}.data"),
        pos=_optional(message, "pos", _pos, f"{where}."),
        end_pos=_optional(message, "endPos", _pos, f"{where}."),
    )


def _sorry(value: object, where: str) -> ReplSorry:
    sorry = _object(value, where)
    return ReplSorry(
        goal=_text(sorry.get("goal"), f"{where}.goal"),
        proof_state=_optional(sorry, "proofState", _id, f"{where}."),
        pos=_optional(sorry, "pos", _pos, f"{where}."),
        end_pos=_optional(sorry, "endPos", _pos, f"{where}."),
    )


def _tactic(value: object, where: str) -> ReplTactic:
    tactic = _object(value, where)
    return ReplTactic(
        tactic=_text(tactic.get("tactic"), f"{where}.tactic"),
        goals=_text(tactic.get("goals"), f"{where}.goals"),
        proof_state=_optional(tactic, "proofState", _id, f"{where}."),
        pos=_optional(tactic, "pos", _pos, f"{where}."),
        end_pos=_optional(tactic, "endPos", _pos, f"{where}."),
        used_constants=_items(tactic, "usedConstants", _text, f"{where}."),
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
