"""The rules on attributes and Aesop rules: what registers or replaces code."""

from __future__ import annotations

from proofgate.lean.lexer import Token, TokenKind
from proofgate.verify.policy.aesop import meta_code_mention
from proofgate.verify.policy.base import ScanBase
from proofgate.verify.rules import CODE_ATTRIBUTE_SUFFIXES, CODE_ATTRIBUTES, MAX_SCAN

__all__ = ["CLAUSES", "AttributeRules"]

#: The words that open an Aesop clause.
CLAUSES = ("add", "erase", "rule_sets")


class AttributeRules(ScanBase):
    """Attribute lists (`@[...]`, `attribute [...]`, `(attr := ...)`) and Aesop's clauses."""

    def _attributes(self, index: int) -> None:
        """An attribute list, from just after `@[` (or `attribute [`) to its `]`."""
        if index <= self._scanned["attribute"]:
            return  # nested in a list already read: its entries were read with it
        depth, entry_start, entry = 0, True, ""
        # Depths whose `,` starts an attribute: the list's own, and each `(attr := a, b)` inside
        # it (Mathlib's `to_additive`, `reassoc`, ... apply the attributes they are given).
        lists = {0}
        previous: Token | None = None
        for position, token in enumerate(self._window(index), start=index):
            self._scanned["attribute"] = position
            if token.kind is TokenKind.SYMBOL:
                if token.text in ("[", "(", "{", "@[", "#[", "%["):
                    depth += 1
                    entry_start = entry_start or token.text == "@["
                elif token.text in ("]", ")", "}"):
                    if depth == 0:
                        return
                    lists.discard(depth)
                    depth -= 1
                elif token.text == "," and depth in lists:
                    entry_start = True
                elif token.text == ":=" and previous is not None and previous.is_word("attr"):
                    lists.add(depth)
                    entry_start = True
                elif token.text == "-" and entry_start:  # `attribute [-aesop] t`: an erasure
                    entry_start, entry = False, "-"
            elif token.kind is TokenKind.IDENT and entry_start:
                if token.is_word("local", "scoped"):
                    continue
                entry_start, entry = False, token.name
                if entry == "aesop":
                    self._aesop_registration(token)
                if _is_code_attribute(entry):
                    self.refuse(
                        "code-attribute",
                        token,
                        f"attribute `{entry}` registers or replaces code; remove it",
                    )
            elif entry == "aesop" and token.is_word("tactic"):
                self.refuse(
                    "code-attribute",
                    token,
                    "an `aesop` rule of kind `tactic` runs the "
                    "file's own meta code; use lemma rules",
                )
            elif entry == "aesop" and token.is_word("unsafe"):
                self._aesop_phase.add(token.start)
            previous = token
        if index < len(self.code):
            self.refuse(
                "code-attribute",
                self.code[index],
                "attribute list too long (or never closed) to inspect; close it with `]`",
            )

    def _aesop_registration(self, token: Token) -> None:
        """An Aesop rule being added: refused in a file with meta-level code of its own, which a
        rule can run without the word `tactic` (see `proofgate.verify.policy.aesop`)."""
        if self._meta_mention is None:
            self._meta_mention = meta_code_mention(self.code) or False
        if self._meta_mention:
            mention = self._meta_mention
            self.refuse(
                "aesop-tactic-rule",
                token,
                f"this file has meta-level code (`{mention.name}`, line {mention.line}), and an "
                "aesop rule can run it (Aesop tries a rule as a `tactic` rule first when it names "
                "no builder): register aesop rules only in a file without meta-level code",
            )

    def _aesop_clauses(self, index: int) -> None:
        """`aesop (add safe tactic f)`: refuse tactic rules among the clauses."""
        if index <= self._scanned["aesop"]:
            return
        position = index + 1
        while (opening := self._next(position)) is not None and opening.text == "(":
            depth, position, limit = 0, position + 1, position + MAX_SCAN
            if (kind := self._next(position)) is not None and kind.is_word("add"):
                self._aesop_registration(kind)
            while (token := self._next(position)) is not None:
                if position >= limit:
                    self.refuse(
                        "aesop-tactic-rule",
                        opening,
                        "aesop clause too long (or never closed) to inspect",
                    )
                    return
                position += 1
                self._scanned["aesop"] = position
                if token.text == "(":
                    depth += 1
                elif token.text == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif token.is_word("tactic"):
                    self.refuse(
                        "aesop-tactic-rule",
                        token,
                        "an aesop `tactic` rule runs the "
                        "file's own meta code; use lemma rules (`add safe apply foo`)",
                    )
                elif token.is_word("unsafe"):  # Aesop's `unsafe` rule phase, not the keyword
                    self._aesop_phase.add(token.start)


def _is_code_attribute(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last in CODE_ATTRIBUTES or last.startswith("builtin_"):
        return True
    return last.endswith(CODE_ATTRIBUTE_SUFFIXES)
