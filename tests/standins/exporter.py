"""Stand-in for the elaborator's exporter: writes exports (docs/export-format.md) from terms built
in Python, with each name, level and expression written once (hash-consed) and before its first
use, as the real exporter does. Tests build honest exports with it and then break them line by
line. Standard library only, no proofgate import: the stand-in checker may load it too.

    e = Exporter()
    nat = e.const("Nat")
    e.theorem("t1", e.forall("n", nat, e.app(e.const("Eq"), nat, e.bvar(0), e.bvar(0))), e.const("h"))
    data = e.export()
"""

from __future__ import annotations

import json
from typing import Any

FORMAT_NAME = "proofgate-export"
FORMAT_VERSION = 1
LEAN_VERSION = "4.32.0"
#: The stand-ins' toolchain has no git hash; exports and the stand-in checker agree on this one.
STANDIN_GITHASH = "0000000000000000000000000000000000000000"

Level = int | str | tuple[Any, ...]


class Exporter:
    def __init__(
        self,
        *,
        module: str = "ProofgateSubmission",
        imports: tuple[str, ...] = ("Mathlib",),
        lean_version: str = LEAN_VERSION,
        githash: str = STANDIN_GITHASH,
        format_version: int = FORMAT_VERSION,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.meta = {
            "meta": {
                "format": {"name": FORMAT_NAME, "version": format_version},
                "lean": {"version": lean_version, "githash": githash},
                "module": module,
                "imports": list(imports),
                "options": options if options is not None else {"autoImplicit": False},
            }
        }
        self.lines: list[dict[str, Any]] = [self.meta]
        self._names: dict[tuple[Any, ...], int] = {}
        self._levels: dict[tuple[Any, ...], int] = {}
        self._exprs: dict[str, int] = {}
        self.declarations = 0

    # --- primitives -----------------------------------------------------------------------------

    def name(self, dotted: str) -> int:
        """`a.b.0` -> Name.num (Name.str (Name.str anonymous "a") "b") 0; "" is anonymous."""
        index = 0
        for part in dotted.split(".") if dotted else []:
            kind, body = (
                ("num", {"pre": index, "i": int(part)})
                if part.isdigit()
                else (
                    "str",
                    {"pre": index, "str": part},
                )
            )
            key = (kind, index, part)
            if key not in self._names:
                self._names[key] = len(self._names) + 1
                self.lines.append({"in": self._names[key], kind: body})
            index = self._names[key]
        return index

    def level(self, spec: Level) -> int:
        """0 is zero, n > 0 is succ^n zero, "u" a parameter, ("max"|"imax", a, b), ("succ", a)."""
        if spec == 0:
            return 0
        if isinstance(spec, int):
            return self._level(("succ", self.level(spec - 1)))
        if isinstance(spec, str):
            return self._level(("param", self.name(spec)))
        if spec[0] == "succ":
            return self._level(("succ", self.level(spec[1])))
        return self._level((spec[0], self.level(spec[1]), self.level(spec[2])))

    def _level(self, key: tuple[Any, ...]) -> int:
        if key not in self._levels:
            self._levels[key] = len(self._levels) + 1
            body: Any = key[1] if key[0] in ("succ", "param") else [key[1], key[2]]
            self.lines.append({"il": self._levels[key], key[0]: body})
        return self._levels[key]

    def _expr(self, kind: str, body: Any) -> int:
        key = json.dumps([kind, body], sort_keys=True)
        if key not in self._exprs:
            self._exprs[key] = len(self._exprs)
            self.lines.append({"ie": self._exprs[key], kind: body})
        return self._exprs[key]

    def bvar(self, index: int) -> int:
        return self._expr("bvar", index)

    def sort(self, level: Level = 0) -> int:
        return self._expr("sort", self.level(level))

    def const(self, name: str, *levels: Level) -> int:
        us = [self.level(u) for u in levels]
        return self._expr("const", {"name": self.name(name), "us": us})

    def app(self, fn: int, *args: int) -> int:
        for arg in args:
            fn = self._expr("app", {"fn": fn, "arg": arg})
        return fn

    def forall(self, binder: str, type_: int, body: int, info: str = "default") -> int:
        return self._binder("forallE", binder, type_, body, info)

    def lam(self, binder: str, type_: int, body: int, info: str = "default") -> int:
        return self._binder("lam", binder, type_, body, info)

    def _binder(self, kind: str, binder: str, type_: int, body: int, info: str) -> int:
        return self._expr(
            kind, {"name": self.name(binder), "type": type_, "body": body, "binderInfo": info}
        )

    def let(self, binder: str, type_: int, value: int, body: int) -> int:
        return self._expr(
            "letE",
            {
                "name": self.name(binder),
                "type": type_,
                "value": value,
                "body": body,
                "nondep": False,
            },
        )

    def proj(self, structure: str, index: int, struct: int) -> int:
        return self._expr(
            "proj", {"typeName": self.name(structure), "idx": index, "struct": struct}
        )

    def nat(self, value: int | str) -> int:
        return self._expr("natVal", str(value))

    def string(self, value: str) -> int:
        return self._expr("strVal", value)

    # --- declarations ---------------------------------------------------------------------------

    def _declare(self, kind: str, body: dict[str, Any], count: int = 1) -> None:
        self.lines.append({kind: body})
        self.declarations += count

    def _common(self, name: str, type_: int, level_params: tuple[str, ...]) -> dict[str, Any]:
        for u in level_params:
            self.level(u)
        return {
            "name": self.name(name),
            "levelParams": [self.name(u) for u in level_params],
            "type": type_,
        }

    def theorem(
        self, name: str, type_: int, value: int, level_params: tuple[str, ...] = ()
    ) -> None:
        body = self._common(name, type_, level_params)
        self._declare("thm", {**body, "value": value, "all": [self.name(name)]})

    def definition(
        self,
        name: str,
        type_: int,
        value: int,
        level_params: tuple[str, ...] = (),
        *,
        safety: str = "safe",
        hints: Any = None,
    ) -> None:
        body = self._common(name, type_, level_params)
        self._declare(
            "def",
            {
                **body,
                "value": value,
                "hints": {"regular": 1} if hints is None else hints,
                "safety": safety,
                "all": [self.name(name)],
            },
        )

    def axiom(self, name: str, type_: int, level_params: tuple[str, ...] = ()) -> None:
        self._declare("axiom", {**self._common(name, type_, level_params), "isUnsafe": False})

    def opaque(self, name: str, type_: int, value: int, *, unsafe: bool = False) -> None:
        body = self._common(name, type_, ())
        self._declare(
            "opaque", {**body, "value": value, "isUnsafe": unsafe, "all": [self.name(name)]}
        )

    def inductive(self, name: str, type_: int, ctors: list[tuple[str, int]]) -> None:
        """A one-type inductive without parameters or indices, and its recursor (whose type and
        rules' right-hand sides are placeholders: the stand-ins do not type-check)."""
        names = [self.name(c) for c, _ in ctors]
        types = [
            {
                **self._common(name, type_, ()),
                "numParams": 0,
                "numIndices": 0,
                "all": [self.name(name)],
                "ctors": names,
                "numNested": 0,
                "isRec": False,
                "isUnsafe": False,
                "isReflexive": False,
            }
        ]
        built = [
            {
                **self._common(c, t, ()),
                "induct": self.name(name),
                "cidx": i,
                "numParams": 0,
                "numFields": 0,
                "isUnsafe": False,
            }
            for i, (c, t) in enumerate(ctors)
        ]
        motive = self.sort(1)
        recs = [
            {
                **self._common(f"{name}.rec", motive, ()),
                "all": [self.name(name)],
                "numParams": 0,
                "numIndices": 0,
                "numMotives": 1,
                "numMinors": len(ctors),
                "rules": [{"ctor": n, "nfields": 0, "rhs": motive} for n in names],
                "k": False,
                "isUnsafe": False,
            }
        ]
        self._declare("inductive", {"types": types, "ctors": built, "recs": recs}, 2 + len(ctors))

    # --- output ---------------------------------------------------------------------------------

    def records(self, *, end: bool = True) -> list[dict[str, Any]]:
        out = list(self.lines)
        if end:
            out.append({"end": {"lines": len(self.lines), "declarations": self.declarations}})
        return out

    def export(self, *, end: bool = True) -> bytes:
        return render(self.records(end=end))


def render(records: list[dict[str, Any]]) -> bytes:
    """NDJSON: one compact object a line, each ending with a newline."""
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records
    )
