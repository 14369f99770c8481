"""One scan of one text: every rule, dispatched token by token."""

from __future__ import annotations

from proofgate.lean.lexer import Token, TokenKind
from proofgate.lean.syntax import NOTATION_WORDS
from proofgate.verify.policy.attributes import CLAUSES, AttributeRules
from proofgate.verify.policy.commands import CommandRules
from proofgate.verify.policy.config import PolicyResult
from proofgate.verify.policy.configs import ConfigRules
from proofgate.verify.policy.names import NameRules
from proofgate.verify.rules import (
    CODE_CONFIG_TACTICS,
    COUNT_HEARTBEATS,
    EVALUATING_WORDS,
    INVISIBLE,
    KEYWORDS,
)

__all__ = ["Scan"]


class Scan(NameRules, CommandRules, AttributeRules, ConfigRules):
    """One pass over one text's tokens, collecting violations, notes and number rewrites."""

    def run(self) -> PolicyResult:
        self._characters()
        for index, token in enumerate(self.code):
            if not token.terminated and token.kind is not TokenKind.MALFORMED:
                self.refuse(
                    "malformed-literal",
                    token,
                    "this literal is never closed: Lean reports it at its start and reads on "
                    "from there, so the text after it would be read as commands; close it",
                )
            if token.kind is TokenKind.IDENT:
                self._identifier(index, token)
            elif token.kind is TokenKind.HASH:
                self._hash(index, token)
            elif token.kind is TokenKind.MALFORMED:
                self.refuse(
                    "malformed-literal",
                    token,
                    token.problem
                    or "this literal is malformed, and Lean's error recovery could read the text "
                    "after it as commands: fix the quote or the escape",
                )
            elif token.text == "@[":
                self._attributes(index + 1)
            elif token.text == "(" and (kind := self._next(index + 1)) and kind.is_word(*CLAUSES):
                # `(add ...)` is an Aesop clause wherever it stands: after `aesop`, after another
                # tactic that takes Aesop's clauses (`arith_mult`, `restrict_tac`), after options
                self._aesop_clauses(index - 1)
            elif token.kind is TokenKind.SYMBOL and token.text in INVISIBLE:
                self.refuse(
                    "invisible-character",
                    token,
                    f"invisible or non-ASCII space "
                    f"U+{ord(token.text):04X} in code: use a plain space or delete it",
                )
        self.violations.sort(key=lambda v: (v.line, v.column))
        pieces, done = [], 0
        for start, end, replacement in sorted(self.rewrites):
            pieces += [self.text[done:start], replacement]
            done = end
        text = "".join([*pieces, self.text[done:]])
        return PolicyResult(tuple(self.violations), tuple(self.notes), text)

    # --- identifiers and keywords ------------------------------------------------------------
    def _identifier(self, index: int, token: Token) -> None:
        strict = self.config.strict
        if strict:
            self._confusable(token)
            self._native_name(index, token)
        self._named_capability(index, token)
        self._config_field(index, token)  # `«discharger» :=` sets the option too
        if token.quoted:  # «unsafe» is a name, never the keyword
            return
        word = token.text
        keyword = KEYWORDS.get(word)
        if keyword is not None and token.start not in self._aesop_phase:
            rule, strict_only, message = keyword
            if strict or not strict_only:
                self.refuse(rule, token, message)
        elif word.startswith(("register_", "declare_")):
            self.refuse(
                "declare-command",
                token,
                f"`{word}` registers an option, attribute or "
                "rule set (code run at load time); remove it",
            )
        elif word == "import":
            self._import(index)
        elif word in COUNT_HEARTBEATS:
            self._count_heartbeats(token, word)
        elif word == "eval" and self._glued(index, "%"):
            self._eval(index, token, what="eval%")
        elif word == "set_option":
            self._set_option(index)
        elif word == "attribute" and self._followed_by(index, "["):
            self._attributes(index + 2)
        elif word.startswith("aesop"):
            self._aesop_clauses(index)
        elif word == "add_aesop_rules":
            self._aesop_registration(token)
        elif word in NOTATION_WORDS:
            self._notation_tokens(index)
        elif strict and word.rstrip("!?") in CODE_CONFIG_TACTICS:
            self._data_configuration(index)
        elif word in EVALUATING_WORDS:
            self._eval(index, token, what=word)
        elif word == "decide" and strict and self._unnamed_config(index):
            self.refuse(
                "native-code",
                token,
                "a `decide` configuration not written as `{ field := value }` can set `native` "
                "without naming it; name its fields",
            )
