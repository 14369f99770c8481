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
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

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
_R = TypeVar("_R", bound="DataclassInstance")
#: Reads one JSON value; the string says where it stands in the reply, for the error.
_Reader = Callable[[object, str], _T]

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


def _severity(value: object, where: str) -> ReplSeverity:
    severity = _text(value, where)
    if severity not in _SEVERITIES:
        raise ValueError(f"{where} is not one of {sorted(_SEVERITIES)}: {severity!r}")
    return cast(ReplSeverity, severity)


def _items(value: object, read: _Reader[_T], where: str) -> tuple[_T, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where} is not a list: {_show(value)}")
    return tuple(read(item, f"{where}[{index}]") for index, item in enumerate(value))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_JSON = "repl_json"


def _key(name: str, read: _Reader[Any], *, many: bool = False) -> dict[str, object]:
    """A record field's metadata: it is the REPL's `name`, read by `read` (each item, with `many`).
    Absent, a field has its default (the REPL omits empty lists and prints `Option` as absent or
    null); a field with no default is required."""
    return {_JSON: (name, read, many)}


def _record(cls: type[_R], obj: Mapping[str, Any], where: str, **extra: Any) -> _R:
    """`cls` built from `obj` by its fields' `_key` metadata; `where` prefixes the keys in errors."""
    values = dict(extra)
    for spec in fields(cls):
        if _JSON not in spec.metadata:
            continue
        key, read, many = spec.metadata[_JSON]
        if many:
            if key in obj:
                values[spec.name] = _items(obj[key], read, f"{where}{key}")
        elif obj.get(key) is not None or spec.default is MISSING:
            values[spec.name] = read(obj.get(key), f"{where}{key}")
    return cls(**values)


def _reader(cls: type[_R]) -> _Reader[_R]:
    """Reads a JSON object into the record `cls` (see `_record`)."""

    def read(value: object, where: str) -> _R:
        return _record(cls, _object(value, where), f"{where}.")

    return read


# --- the reply's records ------------------------------------------------------------------


@dataclass(frozen=True)
class ReplPos:
    """A place in the text the REPL ran: line from 1 (0: nowhere), column from 0, in codepoints."""

    line: int = field(metadata=_key("line", _id))
    column: int = field(metadata=_key("column", _id))


_pos = _reader(ReplPos)


@dataclass(frozen=True)
class _Placed:
    """Where in the text a message, sorry or tactic stands (`pos` to `endPos`), when known."""

    pos: ReplPos | None = field(default=None, kw_only=True, metadata=_key("pos", _pos))
    end_pos: ReplPos | None = field(default=None, kw_only=True, metadata=_key("endPos", _pos))


@dataclass(frozen=True)
class ReplMessage(_Placed):
    """One of Lean's messages (`severity`, `pos`, `endPos`, `data`)."""

    severity: ReplSeverity = field(metadata=_key("severity", _severity))
    data: str = field(metadata=_key("data", _text))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class ReplSorry(_Placed):
    """A `sorry` Lean met: its goal, where, and the proof state a tactic can continue from."""

    goal: str = field(metadata=_key("goal", _text))
    proof_state: int | None = field(default=None, metadata=_key("proofState", _id))


@dataclass(frozen=True)
class ReplTactic(_Placed):
    """One tactic of an `allTactics` run."""

    tactic: str = field(metadata=_key("tactic", _text))
    goals: str = field(metadata=_key("goals", _text))
    proof_state: int | None = field(default=None, metadata=_key("proofState", _id))
    #: None when the REPL printed no `usedConstants` (before v4.14.0 it never does): unknown, not
    #: none used.
    used_constants: tuple[str, ...] | None = field(
        default=None, metadata=_key("usedConstants", _text, many=True)
    )


@dataclass(frozen=True)
class ReplRefusal:
    """The REPL refused the command (`{"message": "Unknown environment."}`, a tactic's
    `Lean error:`); the worker stays usable."""

    message: str


@dataclass(frozen=True)
class ReplReply:
    """A command's or a tactic's response; `raw` is the JSON object as the REPL printed it."""

    env: int | None = field(default=None, metadata=_key("env", _id))
    messages: tuple[ReplMessage, ...] = field(
        default=(), metadata=_key("messages", _reader(ReplMessage), many=True)
    )
    sorries: tuple[ReplSorry, ...] = field(
        default=(), metadata=_key("sorries", _reader(ReplSorry), many=True)
    )
    tactics: tuple[ReplTactic, ...] = field(
        default=(), metadata=_key("tactics", _reader(ReplTactic), many=True)
    )
    proof_state: int | None = field(default=None, metadata=_key("proofState", _id))
    goals: tuple[str, ...] = field(default=(), metadata=_key("goals", _text, many=True))
    proof_status: str | None = field(default=None, metadata=_key("proofStatus", _text))
    traces: tuple[str, ...] = field(default=(), metadata=_key("traces", _text, many=True))
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
    return _record(ReplReply, reply, "", raw=reply)
