"""The rules on names: what a name reaches, however it is written or quoted."""

from __future__ import annotations

from proofgate.lean.lexer import Token, TokenKind
from proofgate.lean.syntax import IMPORT_WORDS
from proofgate.verify.policy.base import ScanBase
from proofgate.verify.rules import (
    CONFUSABLE,
    HOST_IO_WORDS,
    HOST_PREFIXES,
    HOST_ROOTS,
    LEMMA_NAMESPACES,
    META_ROOTS,
    META_WORDS,
    NATIVE_CONSTANTS,
    RAW_TEXT_NAMESPACES,
)

__all__ = ["NameRules"]


class NameRules(ScanBase):
    """Unsafe functions, host IO, the meta level, native evaluation and confusable letters."""

    def _named_capability(self, index: int, token: Token) -> None:
        """What a name reaches however it is written (`«unsafeCast»` is `unsafeCast`)."""
        last = token.parts[-1] if token.parts else token.text
        if _is_unsafe_function(last):
            self.refuse(
                "unsafe",
                token,
                f"`{token.name}` is an unsafe function (an unchecked cast, a pointer, IO from pure "
                "code); a proof needs none",
            )
        # an imported module or an option (`trace.Meta.synthInstance`) is a name, not code
        imported = (previous := self._next(index - 1)) is not None and previous.is_word(
            *IMPORT_WORDS, "set_option"
        )
        parts = token.parts[1:] if token.parts[:1] == ("_root_",) else token.parts
        io = next((p for p in parts if p in HOST_IO_WORDS), None)
        if parts and parts[0] in HOST_ROOTS:
            io = parts[0]
        elif any(parts[: len(prefix)] == prefix for prefix in HOST_PREFIXES):
            io = ".".join(parts[:2])
        elif parts[:1] == ("Std",) and self._opens_namespace(index):
            io = "Std"  # `open Std` reaches `Internal.UV.System.osEnviron` by its short name
        if self.config.strict and io and not imported:
            self.refuse(
                "host-io",
                token,
                f"`{token.name}` names `{io}`: a proof needs no IO, and the strict policy refuses "
                "code that reaches the host's files or processes",
            )
        meta = next((p for p in token.parts if p in META_WORDS), None) or _meta_root(token.parts)
        if self.config.strict and meta and not imported:
            self.refuse(
                "meta-code",
                token,
                f"`{token.name}` names `{meta}`, Lean's meta level: a proof needs none, and the "
                "strict policy refuses code that could run inside the checker",
            )
        if raw := next((p for p in token.parts if p in RAW_TEXT_NAMESPACES), None):
            self.refuse(
                "raw-text-syntax",
                token,
                f"`{token.name}` names `{raw}`, whose syntax reads raw text this pass cannot tell "
                "from code; remove it",
            )

    def _opens_namespace(self, index: int) -> bool:
        """The name at `index` is opened or entered (`open Nat Std in`, `namespace Std.Foo`,
        `export Std (...)`): names inside it then resolve by their short names."""
        position = index - 1
        while (previous := self._next(position)) is not None and previous.line == self.code[
            index
        ].line:
            if previous.is_word("open", "namespace", "export", "scoped"):
                return True
            if previous.kind is not TokenKind.IDENT:
                return False
            position -= 1
        return False

    def _native_name(self, index: int, token: Token) -> None:
        """`native` as an option (`decide +native`), or a constant behind compiled-code evaluation,
        however its name is quoted (`Lean.«ofReduceBool»`, `+«native»`)."""
        if token.parts == ("native",) and self._native_option(index):
            self.refuse(
                "native-code",
                token,
                "`native` evaluation trusts compiled code; use `decide` without it",
            )
        elif token.parts and token.parts[-1] in NATIVE_CONSTANTS:
            self.refuse(
                "native-code",
                token,
                f"`{token.name}` trusts compiled code; the strict "
                "policy refuses it (the audit would reject its axiom anyway)",
            )

    def _native_option(self, index: int) -> bool:
        """`decide +native` or `(config := { native := true })`."""
        before = self._next(index - 1)
        if before is not None and before.text == "+":
            return True
        return self._followed_by(index, ":=") and not self._binds_own_name(index)

    def _unnamed_config(self, index: int) -> bool:
        """`decide (config := X)` where X is not a `{ ... }` of named fields (`{ c with }` takes
        its fields from elsewhere)."""
        after = self.code[index + 1 : index + 7]
        if len(after) < 4 or after[0].text != "(" or after[1].parts != ("config",):
            return False
        if after[2].text != ":=":
            return False
        return after[3].text != "{" or (len(after) == 6 and after[5].is_word("with"))

    def _confusable(self, token: Token) -> None:
        for part in token.parts:
            odd = next((ch for ch in part if ch in CONFUSABLE), None)
            if odd is not None and any(ch.isascii() and ch.isalpha() for ch in part):
                self.refuse(
                    "confusable-identifier",
                    token,
                    f"identifier `{part}` mixes ASCII "
                    f"letters with U+{ord(odd):04X}, which looks like one; use one script",
                )
                return


def _is_unsafe_function(name: str) -> bool:
    """Lean's unsafe functions by their naming: `unsafeCast`, `unsafeBaseIO`, `ptrAddrUnsafe`
    (not `unsafe_lemma` or `«unsafe name»`, which are the submitter's names)."""
    rest = name.removeprefix("unsafe")
    return (rest != name and rest[:1].isupper()) or (name.endswith("Unsafe") and name != "Unsafe")


def _meta_root(parts: tuple[str, ...]) -> str | None:
    """`Lean` in `Lean.Elab.runFrontend` or `open Lean` (not in `Lean.Grind.*`'s lemmas)."""
    if parts[:1] == ("_root_",):
        parts = parts[1:]
    if not parts or parts[0] not in META_ROOTS or tuple(parts[:2]) in LEMMA_NAMESPACES:
        return None
    return parts[0]
