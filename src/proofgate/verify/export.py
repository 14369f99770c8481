"""The export format (docs/export-format.md): its constants, version, limits, and a safe parser.

An export is NDJSON that an untrusted elaboration process writes: a `meta` line, numbered names,
levels and expressions (each defined before use), declarations, and an `end` trailer. This module
reads one without trusting it: every refusal is a value (`ExportRefusal`, the checker's outcome
`export_invalid` or `export_too_large` with a reason naming the line), never an exception, and no
step recurses on the depth of a term, so a crafted export costs at most its size.

Standard library only and no sibling imports: the test stand-ins load this file by path (as they
load `proofgate/bench/simulated_lean.py`) so that they and the service read exports by one set of
rules. The trusted checker's own parser is Lean (`Proofgate/ExportParse.lean`, untested against
real Lean); this one bounds exports on the Python side and models the checker in the stand-ins.
"""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

__all__ = [
    "BINDER_INFOS",
    "DECLARATION_KINDS",
    "DEFAULT_LIMITS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_JSON_NESTING",
    "MAX_NUMBER_DIGITS",
    "MAX_SMALL_NAT",
    "REFUSAL_CODES",
    "Declaration",
    "Export",
    "ExportLimits",
    "ExportMeta",
    "ExportParser",
    "ExportRefusal",
    "LeanPin",
    "parse_export",
]

FORMAT_NAME = "proofgate-export"
#: Bumped with every change of the format; a parser refuses any other number.
FORMAT_VERSION = 1

#: The deepest JSON nesting a valid line has (`{"inductive": {"recs": [{"rules": [{...}]}]}}`).
MAX_JSON_NESTING = 6
#: No integer field of the format is longer (indices stay below the node limit).
MAX_NUMBER_DIGITS = 10
#: Bound for the naturals that are not indices (bound-variable and projection indices, numeric
#: name components, the counts of inductive types and recursors, reducibility heights): Lean
#: stores some of them in 32 bits (`ReducibilityHints.regular` is a `UInt32`).
MAX_SMALL_NAT = 2**32 - 1

BINDER_INFOS = ("default", "implicit", "strictImplicit", "instImplicit")
#: The kind each declaration record gives its constants, in the words of the checker's contract.
DECLARATION_KINDS = {
    "axiom": "axiom",
    "def": "definition",
    "thm": "theorem",
    "opaque": "opaque",
    "quot": "quotient",
    "inductive": "inductive",  # its `ctors` are constructors, its `recs` recursors
}
QUOT_KINDS = ("type", "ctor", "lift", "ind")
SAFETIES = ("safe", "unsafe", "partial")

#: Every reason a parser refuses an export, by code (`ExportRefusal.code`).
REFUSAL_CODES = {
    "not_utf8": "a line is not UTF-8",
    "bad_json": "a line is not one JSON object (or uses a float, NaN, a sign or a leading zero)",
    "duplicate_key": "an object repeats a key",
    "json_nesting": f"a line nests JSON deeper than {MAX_JSON_NESTING}",
    "missing_meta": "the first line is not the meta record",
    "version_mismatch": "the format or the Lean version is not the reader's",
    "unknown_record": "a line is no record of the format",
    "bad_field": "a record's field is missing, extra, or of the wrong type or range",
    "duplicate_index": "a name, level or expression index is defined twice",
    "index_gap": "an index skips the next free one (indices are dense)",
    "forward_reference": "a record refers to an index not defined yet",
    "mdata": "an expression is `mdata` (never exported)",
    "duplicate_declaration": "a constant is declared twice",
    "truncated": "the export ends before its `end` record, or mid-line",
    "trailer_mismatch": "the `end` record's counts are not the export's",
    "data_after_end": "bytes follow the `end` record",
    "limit": "a size or depth limit (`ExportRefusal.limit` names it)",
}

_CANONICAL_NAT = re.compile(r"0|[1-9][0-9]*")
_CANONICAL_INT = re.compile(rf"0|[1-9][0-9]{{0,{MAX_NUMBER_DIGITS - 1}}}")


@dataclass(frozen=True)
class ExportLimits:
    """What a reader accepts; over any of them the export is refused (`export_too_large`)."""

    bytes: int = 64 * 1024 * 1024  # the whole export (PROOFGATE_AUDIT_EXPORT_MAX_BYTES)
    line_bytes: int = 1024 * 1024  # one line, without its newline
    lines: int = 4_100_000  # every line, meta and end included
    term_nodes: int = 4_000_000  # names + levels + expressions
    declarations: int = 20_000  # constants (each type, constructor, recursor of an inductive)
    expr_depth: int = 20_000  # 1 + the children's maximum; also bounds bound-variable indices
    level_depth: int = 1_000
    name_depth: int = 1_000  # components of one name
    nat_digits: int = 100_000  # digits of a natural-number literal


DEFAULT_LIMITS = ExportLimits()


@dataclass(frozen=True)
class LeanPin:
    """The toolchain a reader belongs to: an export made by another one is refused."""

    version: str  # "4.32.0", as Lean.versionString prints it (no leading "v")
    githash: str | None = None  # None: not compared (the stand-ins' toolchain has none)


@dataclass(frozen=True)
class ExportRefusal:
    """Why an export was refused: a conclusion, not a fault of the reader."""

    outcome: Literal["export_invalid", "export_too_large"]
    code: str  # a key of REFUSAL_CODES
    reason: str  # one line for people, naming the line
    line: int | None = None  # 1-based; None when the refusal is about the whole export
    limit: str | None = None  # the `ExportLimits` field, for `export_too_large`

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ExportMeta:
    format_version: int
    lean_version: str
    lean_githash: str
    module: str
    imports: tuple[str, ...]
    options: dict[str, bool | int | str]


@dataclass(frozen=True)
class Declaration:
    """One exported constant. `exprs` are the expression indices it holds (type first, then the
    value and recursor rules' right-hand sides); `data` is every other field, names rendered."""

    name: str
    kind: str  # a value of DECLARATION_KINDS, or "constructor" / "recursor"
    name_parts: tuple[str | int, ...]  # the components (`name` joins them with dots)
    level_params: tuple[str, ...]
    type: int
    value: int | None
    unsafe: bool
    partial: bool
    line: int
    exprs: tuple[int, ...]
    data: tuple[tuple[str, Any], ...]


class _Refused(Exception):
    def __init__(self, refusal: ExportRefusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


# A name is (parent index, component); a level ("succ", l) | ("max", a, b) | ("imax", a, b) |
# ("param", name); an expression a tuple led by its constructor's name.
_Node = tuple[Any, ...]


@dataclass
class Export:
    """A parsed export. Terms are kept only when the parser was asked to (`keep_terms`)."""

    meta: ExportMeta
    declarations: list[Declaration]
    lines: int
    bytes: int
    term_nodes: int
    max_expr_depth: int
    names: list[tuple[int, str | int]] = field(repr=False)
    levels: list[_Node] | None = field(repr=False)
    exprs: list[_Node] | None = field(repr=False)
    _keys: dict[tuple[str, ...] | None, list[str]] = field(default_factory=dict, repr=False)
    _level_cache: dict[tuple[str, ...] | None, list[str]] = field(default_factory=dict, repr=False)

    def declaration(self, name: str) -> Declaration | None:
        return next((d for d in self.declarations if d.name == name), None)

    def name(self, index: int) -> str:
        """A name as Lean prints it unescaped (`Nat.add_comm`, `_private.M.0.x`)."""
        return ".".join(str(part) for part in self._components(index))

    def _components(self, index: int) -> list[str | int]:
        parts: list[str | int] = []
        while index != 0:  # parents have smaller indices: this ends
            parent, part = self.names[index]
            parts.append(part)
            index = parent
        return parts[::-1]

    def _terms(self) -> tuple[list[_Node], list[_Node]]:
        if self.levels is None or self.exprs is None:
            raise ValueError("this export was parsed without its terms (keep_terms=False)")
        return self.levels, self.exprs

    def term_key(self, index: int, rename: tuple[str, ...] | None = None) -> str:
        """A structural key of expression `index`: equal keys for terms Lean's `==` (`Expr.eqv`)
        finds equal, binder names and binder info aside. With `rename`, a universe parameter is
        keyed by its position in it, so terms equal up to renaming parameters get equal keys.
        Computed bottom-up over the index order (children come first), never recursively."""
        levels, exprs = self._terms()
        keys = self._keys.setdefault(rename, [])
        level_keys = self._level_keys(levels, rename)
        while len(keys) <= index:
            node = exprs[len(keys)]
            tag = node[0]
            if tag in ("app",):
                parts = [tag, keys[node[1]], keys[node[2]]]
            elif tag in ("lam", "forallE"):
                parts = [tag, keys[node[2]], keys[node[3]]]
            elif tag == "letE":
                parts = [tag, keys[node[2]], keys[node[3]], keys[node[4]]]
            elif tag == "proj":
                parts = [tag, self.name(node[1]), str(node[2]), keys[node[3]]]
            elif tag == "const":
                parts = [tag, self.name(node[1]), *(level_keys[u] for u in node[2])]
            elif tag == "sort":
                parts = [tag, level_keys[node[1]]]
            else:  # bvar, natVal, strVal
                parts = [tag, str(node[1])]
            keys.append(_digest(parts))
        return keys[index]

    def _level_keys(self, levels: list[_Node], rename: tuple[str, ...] | None) -> list[str]:
        cached = self._level_cache.get(rename)
        if cached is not None:
            return cached
        out: list[str] = []
        for node in levels:  # children come first
            if node[0] == "param":
                name = self.name(node[1])
                if rename is not None and name in rename:
                    out.append(_digest(["param#", str(rename.index(name))]))
                else:
                    out.append(_digest(["param", name]))
            else:
                out.append(_digest([node[0], *(out[j] for j in node[1:])]))
        self._level_cache[rename] = out
        return out

    def constant_key(self, declaration: Declaration) -> str:
        """A key of the whole constant (Lean's `ConstantInfo` `==`): kind, universe parameters,
        every expression it holds and every other field."""
        parts = [declaration.kind, declaration.name, *declaration.level_params]
        parts += [self.term_key(e) for e in declaration.exprs]
        parts.append(json.dumps(declaration.data, sort_keys=True))
        return _digest(parts)

    def constants_used(self, indices: Iterable[int]) -> set[str]:
        """The constants expressions `indices` are built from: every `const`, and the structure of
        every projection (a structure reached only by `Expr.proj` counts too)."""
        _, exprs = self._terms()
        found: set[str] = set()
        seen: set[int] = set()
        todo = list(indices)
        while todo:
            index = todo.pop()
            if index in seen:
                continue
            seen.add(index)
            node = exprs[index]
            tag = node[0]
            if tag == "const":
                found.add(self.name(node[1]))
            elif tag == "proj":
                found.add(self.name(node[1]))
                todo.append(node[3])
            elif tag == "app":
                todo += [node[1], node[2]]
            elif tag in ("lam", "forallE"):
                todo += [node[2], node[3]]
            elif tag == "letE":
                todo += [node[2], node[3], node[4]]
        return found


def _digest(parts: list[str]) -> str:
    return hashlib.blake2b(
        "\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


# --- the parser ---------------------------------------------------------------------------------


class _StrictJson:
    """One JSON object per line, read the way the Lean parser reads it: no duplicate keys, no
    floats, no NaN/Infinity, integers canonical and short, nesting bounded, strings valid Unicode."""

    def __init__(self) -> None:
        self.decoder = json.JSONDecoder(
            object_pairs_hook=self._pairs,
            parse_float=self._float,
            parse_int=self._int,
            parse_constant=self._constant,
        )

    @staticmethod
    def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _JsonProblem(
                "duplicate_key", f"an object repeats a key ({sorted(k for k, _ in pairs)})"
            )
        return out

    @staticmethod
    def _float(text: str) -> Any:
        raise _JsonProblem("bad_json", f"{text[:40]} is not an integer (the format has no floats)")

    @staticmethod
    def _int(text: str) -> int:
        if not _CANONICAL_INT.fullmatch(text):
            raise _JsonProblem(
                "bad_json",
                f"{text[:40]} is not a natural number of at most {MAX_NUMBER_DIGITS} digits "
                "without sign or leading zero",
            )
        return int(text)

    @staticmethod
    def _constant(text: str) -> Any:
        raise _JsonProblem("bad_json", f"{text} is not JSON")

    def load(self, text: str) -> dict[str, Any]:
        stripped = text.strip(" \t")
        try:
            value, end = self.decoder.raw_decode(stripped)
        except RecursionError as exc:
            raise _JsonProblem(
                "json_nesting", f"JSON nested deeper than {MAX_JSON_NESTING}"
            ) from exc
        except ValueError as exc:
            if isinstance(exc, _JsonProblem):
                raise
            raise _JsonProblem("bad_json", f"not JSON: {exc}") from exc
        if end != len(stripped):
            raise _JsonProblem("bad_json", "text after the line's JSON object")
        if not isinstance(value, dict):
            raise _JsonProblem("bad_json", f"a JSON {type(value).__name__}, not an object")
        # Iterative: bound the nesting and refuse lone surrogates (`"\\ud800"`), which Lean's
        # strings cannot hold.
        todo: list[tuple[Any, int]] = [(value, 1)]
        while todo:
            item, depth = todo.pop()
            if isinstance(item, (dict, list)):
                if depth > MAX_JSON_NESTING:
                    raise _JsonProblem(
                        "json_nesting", f"JSON nested deeper than {MAX_JSON_NESTING}"
                    )
                children = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
                for key, child in children:
                    if isinstance(key, str):
                        todo.append((key, depth))
                    todo.append((child, depth + 1))
            elif isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise _JsonProblem(
                        "bad_json", "a string holds a lone surrogate escape"
                    ) from exc
        return value


class _JsonProblem(ValueError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_NAME_SHAPES = {"str": ("pre", "str"), "num": ("pre", "i")}
_LEVEL_SHAPES = ("succ", "max", "imax", "param")
_EXPR_FIELDS = {
    "const": ("name", "us"),
    "app": ("fn", "arg"),
    "lam": ("name", "type", "body", "binderInfo"),
    "forallE": ("name", "type", "body", "binderInfo"),
    "letE": ("name", "type", "value", "body", "nondep"),
    "proj": ("typeName", "idx", "struct"),
}
_EXPR_SCALARS = ("bvar", "sort", "natVal", "strVal")
_EXPR_KINDS = frozenset(_EXPR_FIELDS) | frozenset(_EXPR_SCALARS)
_DECL_FIELDS = {
    "axiom": ("name", "levelParams", "type", "isUnsafe"),
    "def": ("name", "levelParams", "type", "value", "hints", "safety", "all"),
    "thm": ("name", "levelParams", "type", "value", "all"),
    "opaque": ("name", "levelParams", "type", "value", "isUnsafe", "all"),
    "quot": ("name", "levelParams", "type", "kind"),
}
_INDUCT_FIELDS = (
    "name", "levelParams", "type", "numParams", "numIndices", "all", "ctors", "numNested",
    "isRec", "isUnsafe", "isReflexive",
)  # fmt: skip
_CTOR_FIELDS = (
    "name", "levelParams", "type", "induct", "cidx", "numParams", "numFields", "isUnsafe",
)  # fmt: skip
_REC_FIELDS = (
    "name", "levelParams", "type", "all", "numParams", "numIndices", "numMotives", "numMinors",
    "rules", "k", "isUnsafe",
)  # fmt: skip
_RULE_FIELDS = ("ctor", "nfields", "rhs")


class ExportParser:
    """Reads an export incrementally (`feed` bytes as they arrive, then `close`), refusing at the
    first problem. After a refusal it ignores further input and `close` returns the refusal.

    `keep_terms=False` keeps only what bounding needs (names, depths, declarations), for readers
    that do not compare terms."""

    def __init__(
        self,
        *,
        limits: ExportLimits = DEFAULT_LIMITS,
        lean: LeanPin | None = None,
        keep_terms: bool = True,
    ) -> None:
        self.limits = limits
        self.lean = lean
        self.keep_terms = keep_terms
        self._json = _StrictJson()
        self._pending = bytearray()
        self._bytes = 0
        self._line = 0  # lines read so far
        self._refusal: ExportRefusal | None = None
        self._ended = False
        self._meta: ExportMeta | None = None
        self._names: list[tuple[int, str | int]] = [(0, "")]  # 0: the anonymous name
        self._name_depth = array("I", [0])
        self._levels: list[_Node] = [("zero",)]  # 0: level zero
        self._level_depth = array("I", [1])
        self._exprs: list[_Node] = []
        self._expr_depth = array("I")
        self._max_expr_depth = 0
        self._declarations: list[Declaration] = []
        self._declared: set[tuple[str | int, ...]] = set()

    # --- input ----------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if self._refusal is not None:
            return
        try:
            self._feed(chunk)
        except _Refused as refused:
            self._refusal = refused.refusal

    def _feed(self, chunk: bytes) -> None:
        self._bytes += len(chunk)
        if self._bytes > self.limits.bytes:
            self._too_large("bytes", f"the export is over {self.limits.bytes} bytes", line=None)
        self._pending += chunk
        start = 0
        while True:
            newline = self._pending.find(b"\n", start)
            if newline < 0:
                break
            self._one_line(bytes(self._pending[start:newline]))
            start = newline + 1
        del self._pending[:start]
        if len(self._pending) > self.limits.line_bytes:
            self._too_large(
                "line_bytes",
                f"line {self._line + 1} is over {self.limits.line_bytes} bytes",
                line=self._line + 1,
            )

    def close(self) -> Export | ExportRefusal:
        """The export, or why it was refused."""
        if self._refusal is None:
            try:
                self._close()
            except _Refused as refused:
                self._refusal = refused.refusal
        if self._refusal is not None:
            return self._refusal
        assert self._meta is not None
        return Export(
            meta=self._meta,
            declarations=self._declarations,
            lines=self._line,
            bytes=self._bytes,
            term_nodes=self._nodes(),
            max_expr_depth=self._max_expr_depth,
            names=self._names,
            levels=self._levels if self.keep_terms else None,
            exprs=self._exprs if self.keep_terms else None,
        )

    def _close(self) -> None:
        if self._pending:
            self._invalid("truncated", f"line {self._line + 1} has no final newline (cut off?)")
        if self._meta is None:
            self._invalid("truncated", "the export is empty: no meta record", line=None)
        if not self._ended:
            self._invalid(
                "truncated", f"the export ends after line {self._line} without its end record"
            )

    # --- refusals -------------------------------------------------------------------------------

    def _invalid(
        self, code: str, reason: str, *, line: int | Literal[False] | None = False
    ) -> NoReturn:
        self._refuse("export_invalid", code, reason, line)

    def _too_large(
        self, limit: str, reason: str, *, line: int | Literal[False] | None = False
    ) -> NoReturn:
        self._refuse("export_too_large", "limit", reason, line, limit)

    def _refuse(
        self,
        outcome: Literal["export_invalid", "export_too_large"],
        code: str,
        reason: str,
        line: int | Literal[False] | None,
        limit: str | None = None,
    ) -> NoReturn:
        """Stop reading, the reason naming the line it is about: the current one (`line` False),
        that one, or none (None: the whole export)."""
        at = self._line if line is False else line
        text = (
            f"line {at}: {reason}" if at is not None and not reason.startswith("line ") else reason
        )
        raise _Refused(ExportRefusal(outcome, code, text, at, limit))

    def _nodes(self) -> int:
        return len(self._names) - 1 + len(self._levels) - 1 + len(self._exprs)

    # --- lines ----------------------------------------------------------------------------------

    def _one_line(self, raw: bytes) -> None:
        self._line += 1
        if self._line > self.limits.lines:
            self._too_large("lines", f"the export has over {self.limits.lines} lines")
        if len(raw) > self.limits.line_bytes:
            self._too_large("line_bytes", f"the line is over {self.limits.line_bytes} bytes")
        if self._ended:
            self._invalid("data_after_end", "a line follows the end record")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._invalid("not_utf8", f"not UTF-8 ({exc.reason} at byte {exc.start})")
        try:
            record = self._json.load(text)
        except _JsonProblem as problem:
            self._invalid(problem.code, problem.reason)
        if self._meta is None:
            self._read_meta(record)
        elif "in" in record:
            self._read_name(record)
        elif "il" in record:
            self._read_level(record)
        elif "ie" in record:
            self._read_expr(record)
        elif len(record) == 1 and "end" in record:
            self._read_end(record["end"])
        elif len(record) == 1 and next(iter(record)) in DECLARATION_KINDS:
            self._read_declaration(record)
        else:
            self._invalid(
                "unknown_record", f"no record of the format has the keys {sorted(record)[:8]}"
            )
        if self._nodes() > self.limits.term_nodes:
            self._too_large(
                "term_nodes", f"the export has over {self.limits.term_nodes} term nodes"
            )

    # --- fields ---------------------------------------------------------------------------------

    def _fields(self, value: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self._invalid("bad_field", f"{what} is not an object")
        if set(value) != set(keys):
            missing, extra = sorted(set(keys) - set(value)), sorted(set(value) - set(keys))
            self._invalid("bad_field", f"{what}: missing {missing}, unexpected {extra[:8]}")
        return value

    def _nat(self, value: Any, what: str, bound: int = MAX_SMALL_NAT) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self._invalid("bad_field", f"{what} is not a natural number")
        if value > bound:
            self._invalid("bad_field", f"{what} is {value}, above {bound}")
        return value

    def _bool(self, value: Any, what: str) -> bool:
        if not isinstance(value, bool):
            self._invalid("bad_field", f"{what} is not a boolean")
        return value

    def _str(self, value: Any, what: str) -> str:
        if not isinstance(value, str):
            self._invalid("bad_field", f"{what} is not a string")
        return value

    def _choice(self, value: Any, choices: tuple[str, ...], what: str) -> str:
        if value not in choices:
            self._invalid(
                "bad_field", f"{what} is {json.dumps(value)[:40]}, not one of {list(choices)}"
            )
        return str(value)

    def _list(self, value: Any, what: str) -> list[Any]:
        if not isinstance(value, list):
            self._invalid("bad_field", f"{what} is not an array")
        return value

    def _ref(self, value: Any, table: str, what: str) -> int:
        size = {"name": len(self._names), "level": len(self._levels), "expr": len(self._exprs)}[
            table
        ]
        index = self._nat(value, what, bound=2**63)
        if index >= size:
            self._invalid("forward_reference", f"{what} refers to {table} {index}, not defined yet")
        return index

    def _name_ref(self, value: Any, what: str, *, anonymous: bool = True) -> int:
        index = self._ref(value, "name", what)
        if index == 0 and not anonymous:
            self._invalid("bad_field", f"{what} is the anonymous name")
        return index

    def _new_index(self, value: Any, table: str, size: int) -> None:
        index = self._nat(value, f"the {table} index", bound=2**63)
        if index < size:
            self._invalid("duplicate_index", f"{table} {index} is already defined")
        if index > size:
            self._invalid("index_gap", f"{table} {index} skips {size}, the next free index")

    def _entry(
        self, record: dict[str, Any], index_key: str, table: str, size: int, kinds: Container[str]
    ) -> str:
        """The kind of a name, level or expression record (its one key besides `index_key`), once
        it is one of `kinds` and its index is the table's next free one."""
        keys = set(record) - {index_key}
        kind = keys.pop() if len(keys) == 1 else ""
        if kind not in kinds:
            self._invalid("unknown_record", f"no {table} record has the keys {sorted(record)[:8]}")
        self._new_index(record[index_key], table, size)
        return kind

    # --- meta and end ---------------------------------------------------------------------------

    def _read_meta(self, record: dict[str, Any]) -> None:
        if set(record) != {"meta"}:
            self._invalid("missing_meta", "the first line is not the meta record")
        meta = self._fields(
            record["meta"], ("format", "lean", "module", "imports", "options"), "meta"
        )
        fmt = self._fields(meta["format"], ("name", "version"), "meta.format")
        lean = self._fields(meta["lean"], ("version", "githash"), "meta.lean")
        version_given = fmt["version"]  # exactly the integer: `true == 1` in Python, not in JSON
        if (
            fmt["name"] != FORMAT_NAME
            or type(version_given) is not int
            or version_given != FORMAT_VERSION
        ):
            self._invalid(
                "version_mismatch",
                f"format {json.dumps(fmt['name'])[:60]} version {json.dumps(fmt['version'])[:20]}, "
                f"this reader reads {FORMAT_NAME} version {FORMAT_VERSION}: export it again with "
                "the elaborator of this release",
            )
        version = self._str(lean["version"], "meta.lean.version")
        githash = self._str(lean["githash"], "meta.lean.githash")
        if self.lean is not None and (
            version != self.lean.version
            or (self.lean.githash is not None and githash != self.lean.githash)
        ):
            self._invalid(
                "version_mismatch",
                f"exported by Lean {version[:40]} ({githash[:40]}), this reader belongs to Lean "
                f"{self.lean.version} ({self.lean.githash or 'any build'}): the elaborator and "
                "the checker must share one toolchain",
            )
        imports = tuple(
            self._str(m, "meta.imports[]") for m in self._list(meta["imports"], "meta.imports")
        )
        options = meta["options"]
        if not isinstance(options, dict) or not all(
            isinstance(v, (bool, int, str)) for v in options.values()
        ):
            self._invalid(
                "bad_field", "meta.options is not an object of booleans, naturals, strings"
            )
        self._meta = ExportMeta(
            format_version=FORMAT_VERSION,
            lean_version=version,
            lean_githash=githash,
            module=self._str(meta["module"], "meta.module"),
            imports=imports,
            options=dict(options),
        )

    def _read_end(self, value: Any) -> None:
        end = self._fields(value, ("lines", "declarations"), "end")
        lines = self._nat(end["lines"], "end.lines")
        declarations = self._nat(end["declarations"], "end.declarations")
        if lines != self._line - 1 or declarations != len(self._declarations):
            self._invalid(
                "trailer_mismatch",
                f"the end record counts {lines} lines and {declarations} declarations, the export "
                f"has {self._line - 1} and {len(self._declarations)}",
            )
        self._ended = True

    # --- names, levels, expressions -------------------------------------------------------------

    def _read_name(self, record: dict[str, Any]) -> None:
        kind = self._entry(record, "in", "name", len(self._names), _NAME_SHAPES)
        body = self._fields(record[kind], _NAME_SHAPES[kind], f"Name.{kind}")
        parent = self._name_ref(body["pre"], f"Name.{kind}.pre")
        part: str | int = (
            self._str(body["str"], "Name.str.str")
            if kind == "str"
            else self._nat(body["i"], "Name.num.i")
        )
        depth = self._name_depth[parent] + 1
        if depth > self.limits.name_depth:
            self._too_large("name_depth", f"a name has over {self.limits.name_depth} components")
        self._names.append((parent, part))
        self._name_depth.append(depth)

    def _read_level(self, record: dict[str, Any]) -> None:
        kind = self._entry(record, "il", "level", len(self._levels), _LEVEL_SHAPES)
        value = record[kind]
        node: _Node
        if kind == "succ":
            node = ("succ", self._ref(value, "level", "Level.succ"))
        elif kind == "param":
            node = ("param", self._name_ref(value, "Level.param", anonymous=False))
        else:
            pair = self._list(value, f"Level.{kind}")
            if len(pair) != 2:
                self._invalid("bad_field", f"Level.{kind} is not a pair")
            node = (
                kind,
                self._ref(pair[0], "level", f"Level.{kind}"),
                self._ref(pair[1], "level", f"Level.{kind}"),
            )
        children = [i for i in node[1:] if kind != "param"]
        depth = 1 + max((self._level_depth[i] for i in children), default=0)
        if depth > self.limits.level_depth:
            self._too_large(
                "level_depth", f"a universe level is deeper than {self.limits.level_depth}"
            )
        self._levels.append(node if self.keep_terms else ("",))
        self._level_depth.append(depth)

    def _read_expr(self, record: dict[str, Any]) -> None:
        if set(record) == {"ie", "mdata"}:
            self._invalid(
                "mdata",
                "an mdata expression: the exporter drops mdata, the kernel looks through it",
            )
        kind = self._entry(record, "ie", "expression", len(self._exprs), _EXPR_KINDS)
        value = record[kind]
        what = f"Expr.{kind}"
        node: _Node
        children: tuple[int, ...] = ()
        if kind == "bvar":
            bound = self.limits.expr_depth - 1
            node = ("bvar", self._nat(value, what, bound=bound))
        elif kind == "sort":
            node = ("sort", self._ref(value, "level", what))
        elif kind == "natVal":
            digits = self._str(value, what)
            if len(digits) > self.limits.nat_digits:
                self._too_large("nat_digits", f"a literal has over {self.limits.nat_digits} digits")
            if not _CANONICAL_NAT.fullmatch(digits):
                self._invalid(
                    "bad_field", f"the literal {digits[:40]!r} is not a canonical decimal numeral"
                )
            node = ("natVal", digits)
        elif kind == "strVal":
            node = ("strVal", self._str(value, what))
        else:
            body = self._fields(value, _EXPR_FIELDS[kind], what)
            if kind == "const":
                us = tuple(
                    self._ref(u, "level", f"{what}.us[]")
                    for u in self._list(body["us"], f"{what}.us")
                )
                node = ("const", self._name_ref(body["name"], f"{what}.name", anonymous=False), us)
            elif kind == "app":
                children = (
                    self._ref(body["fn"], "expr", f"{what}.fn"),
                    self._ref(body["arg"], "expr", f"{what}.arg"),
                )
                node = ("app", *children)
            elif kind in ("lam", "forallE"):
                name = self._name_ref(body["name"], f"{what}.name")
                children = (
                    self._ref(body["type"], "expr", f"{what}.type"),
                    self._ref(body["body"], "expr", f"{what}.body"),
                )
                info = self._choice(body["binderInfo"], BINDER_INFOS, f"{what}.binderInfo")
                node = (kind, name, *children, info)
            elif kind == "letE":
                name = self._name_ref(body["name"], f"{what}.name")
                children = tuple(
                    self._ref(body[k], "expr", f"{what}.{k}") for k in ("type", "value", "body")
                )
                node = ("letE", name, *children, self._bool(body["nondep"], f"{what}.nondep"))
            else:  # proj
                struct = self._ref(body["struct"], "expr", f"{what}.struct")
                children = (struct,)
                type_name = self._name_ref(body["typeName"], f"{what}.typeName", anonymous=False)
                node = ("proj", type_name, self._nat(body["idx"], f"{what}.idx"), struct)
        depth = 1 + max((self._expr_depth[i] for i in children), default=0)
        if depth > self.limits.expr_depth:
            self._too_large("expr_depth", f"an expression is deeper than {self.limits.expr_depth}")
        self._max_expr_depth = max(self._max_expr_depth, depth)
        self._exprs.append(node if self.keep_terms else ("",))
        self._expr_depth.append(depth)

    # --- declarations ---------------------------------------------------------------------------

    def _read_declaration(self, record: dict[str, Any]) -> None:
        kind = next(iter(record))
        if kind == "inductive":
            group = self._fields(record[kind], ("types", "ctors", "recs"), "inductive")
            types = self._list(group["types"], "inductive.types")
            if not types:
                self._invalid("bad_field", "inductive.types is empty")
            for item in types:
                self._add(self._inductive(item))
            for item in self._list(group["ctors"], "inductive.ctors"):
                self._add(self._constructor(item))
            for item in self._list(group["recs"], "inductive.recs"):
                self._add(self._recursor(item))
            return
        what = DECLARATION_KINDS[kind]
        body = self._fields(record[kind], _DECL_FIELDS[kind], what)
        data: list[tuple[str, Any]] = []
        value: int | None = None
        unsafe = partial = False
        if kind in ("def", "thm", "opaque"):
            value = self._ref(body["value"], "expr", f"{what}.value")
            data.append(("all", self._names_of(body["all"], f"{what}.all")))
        if kind in ("axiom", "opaque"):
            unsafe = self._bool(body["isUnsafe"], f"{what}.isUnsafe")
            data.append(("isUnsafe", unsafe))
        if kind == "def":
            hints = body["hints"]
            if hints not in ("opaque", "abbrev"):
                regular = self._fields(hints, ("regular",), f"{what}.hints")["regular"]
                hints = {"regular": self._nat(regular, f"{what}.hints.regular")}
            safety = self._choice(body["safety"], SAFETIES, f"{what}.safety")
            unsafe, partial = safety == "unsafe", safety == "partial"
            data += [("hints", hints), ("safety", safety)]
        if kind == "quot":
            data.append(("kind", self._choice(body["kind"], QUOT_KINDS, f"{what}.kind")))
        self._add(
            self._declaration(body, what, value=value, unsafe=unsafe, partial=partial, data=data)
        )

    def _declaration(
        self,
        body: dict[str, Any],
        kind: str,
        *,
        value: int | None = None,
        unsafe: bool = False,
        partial: bool = False,
        data: list[tuple[str, Any]] | None = None,
        extra_exprs: tuple[int, ...] = (),
    ) -> Declaration:
        name = self._name_ref(body["name"], f"{kind}.name", anonymous=False)
        params = self._list(body["levelParams"], f"{kind}.levelParams")
        level_params = tuple(
            self._render(self._name_ref(p, f"{kind}.levelParams[]", anonymous=False))
            for p in params
        )
        type_ = self._ref(body["type"], "expr", f"{kind}.type")
        exprs = (type_,) + ((value,) if value is not None else ()) + extra_exprs
        return Declaration(
            name=self._render(name),
            kind=kind,
            name_parts=self._parts(name),
            level_params=level_params,
            type=type_,
            value=value,
            unsafe=unsafe,
            partial=partial,
            line=self._line,
            exprs=exprs,
            data=tuple(data or ()),
        )

    def _inductive(self, item: Any) -> Declaration:
        body = self._fields(item, _INDUCT_FIELDS, "inductive type")
        unsafe = self._bool(body["isUnsafe"], "inductive.isUnsafe")
        data: list[tuple[str, Any]] = [
            (k, self._nat(body[k], f"inductive.{k}"))
            for k in ("numParams", "numIndices", "numNested")
        ]
        data += [
            (k, self._bool(body[k], f"inductive.{k}")) for k in ("isRec", "isUnsafe", "isReflexive")
        ]
        data += [(k, self._names_of(body[k], f"inductive.{k}")) for k in ("all", "ctors")]
        return self._declaration(body, "inductive", unsafe=unsafe, data=data)

    def _constructor(self, item: Any) -> Declaration:
        body = self._fields(item, _CTOR_FIELDS, "constructor")
        data: list[tuple[str, Any]] = [
            (
                "induct",
                self._render(self._name_ref(body["induct"], "constructor.induct", anonymous=False)),
            )
        ]
        data += [
            (k, self._nat(body[k], f"constructor.{k}")) for k in ("cidx", "numParams", "numFields")
        ]
        unsafe = self._bool(body["isUnsafe"], "constructor.isUnsafe")
        return self._declaration(
            body, "constructor", unsafe=unsafe, data=[*data, ("isUnsafe", unsafe)]
        )

    def _recursor(self, item: Any) -> Declaration:
        body = self._fields(item, _REC_FIELDS, "recursor")
        data: list[tuple[str, Any]] = [("all", self._names_of(body["all"], "recursor.all"))]
        data += [
            (k, self._nat(body[k], f"recursor.{k}"))
            for k in ("numParams", "numIndices", "numMotives", "numMinors")
        ]
        data += [(k, self._bool(body[k], f"recursor.{k}")) for k in ("k", "isUnsafe")]
        rules: list[Any] = []
        rhs: list[int] = []
        for rule in self._list(body["rules"], "recursor.rules"):
            fields = self._fields(rule, _RULE_FIELDS, "recursor rule")
            ctor = self._render(
                self._name_ref(fields["ctor"], "recursor rule.ctor", anonymous=False)
            )
            rules.append([ctor, self._nat(fields["nfields"], "recursor rule.nfields")])
            rhs.append(self._ref(fields["rhs"], "expr", "recursor rule.rhs"))
        data.append(("rules", rules))
        unsafe = self._bool(body["isUnsafe"], "recursor.isUnsafe")
        return self._declaration(body, "recursor", unsafe=unsafe, data=data, extra_exprs=tuple(rhs))

    def _names_of(self, value: Any, what: str) -> list[str]:
        return [
            self._render(self._name_ref(i, f"{what}[]", anonymous=False))
            for i in self._list(value, what)
        ]

    def _parts(self, index: int) -> tuple[str | int, ...]:
        parts: list[str | int] = []
        while index != 0:  # parents have smaller indices: this ends
            parent, part = self._names[index]
            parts.append(part)
            index = parent
        return tuple(reversed(parts))

    def _render(self, index: int) -> str:
        return ".".join(str(part) for part in self._parts(index))

    def _add(self, declaration: Declaration) -> None:
        # Keyed by the components: the rendering cannot tell `a.b` (two) from `«a.b»` (one).
        key = declaration.name_parts
        if key in self._declared:
            self._invalid("duplicate_declaration", f"{declaration.name} is declared twice")
        self._declared.add(key)
        self._declarations.append(declaration)
        if len(self._declarations) > self.limits.declarations:
            self._too_large(
                "declarations", f"the export declares over {self.limits.declarations} constants"
            )


def parse_export(
    data: bytes | Iterable[bytes],
    *,
    limits: ExportLimits = DEFAULT_LIMITS,
    lean: LeanPin | None = None,
    keep_terms: bool = True,
) -> Export | ExportRefusal:
    """Parse a whole export (bytes, or chunks of it); see `ExportParser`."""
    parser = ExportParser(limits=limits, lean=lean, keep_terms=keep_terms)
    for chunk in _chunks(data):
        parser.feed(chunk)
    return parser.close()


def _chunks(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
    else:
        yield from data
