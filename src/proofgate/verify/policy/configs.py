"""The rules on tactic configurations.

Lean evaluates a tactic's configuration with the compiler (`declare_config_elab` elaborates it and
runs `evalExpr`), and some configurations hold code: Mathlib's `linarith` has `discharger :
TacticM Unit`, `oracle` and `preprocessors`; Lean's `BacktrackConfig`, under `solve_by_elim`,
`apply_rules` and `apply_assumption`, has `proc`, `suspend` and `discharge` (`MetaM`). Code there
runs when the tactic does, and reaches IO without naming it (`timeit "" (.Process.output ...)`).
So in strict those fields are refused however they are reached (`oracle.produceCertificate := ...`,
`«discharger» := ...`), and the options of those tactics must be plain data: numbers, `true`,
`false`, `.enumValue`, `[...]` and `{ field := ... }` of them. Heartbeat fields (`grind (canonHeartbeats :=
0)`) are held to the heartbeat cap, as `set_option maxHeartbeats` is, in both profiles.
"""

from __future__ import annotations

from proofgate.lean.lexer import Token, TokenKind
from proofgate.verify.policy.base import ScanBase
from proofgate.verify.rules import CODE_OPTIONS, VALUE_FIELDS

__all__ = ["ConfigRules"]

#: What a tactic's option may hold, besides numbers, field names and `.enumValue`.
_DATA_WORDS = ("true", "false")
_DATA_SYMBOLS = frozenset({"{", "}", "[", "]", ",", ":="})  # `rw (occs := [1])`: a list


class ConfigRules(ScanBase):
    """Configuration fields that hold code or lift a limit, and data-only configurations."""

    def _config_field(self, index: int, token: Token) -> None:
        """`name := value` where `name` may be a configuration field (not a `let` of one's own)."""
        if not self._followed_by(index, ":=") or self._binds_own_name(index):
            return
        code = next((part for part in token.parts if part in CODE_OPTIONS), None)
        if code is not None and self.config.strict:
            self.refuse(
                "meta-code",
                token,
                f"the tactic option `{token.name}` holds meta code that the tactic runs; the strict "
                "policy refuses it (leave the option at its default)",
            )
        if token.parts and token.parts[-1].endswith("Heartbeats"):
            value = self._next(index + 2)
            after = self._next(index + 3)
            plain = (
                after is None
                or after.text in (")", ",", "}")
                or (value is not None and after.line != value.line)
            )
            self._limit(
                token,
                value if plain else None,  # `1 - 1` is 0 to Lean: only a lone number is read
                cap=self.config.heartbeat_cap,
                rule="heartbeats",
                zero_ok=False,
            )
        elif (
            self.config.strict
            and len(token.parts) == 1
            and (token.parts[0] == "config" or token.parts[0] in VALUE_FIELDS)
            and self._previous_is(index, "(")
        ):
            self._data_value(index + 2, token)

    def _data_configuration(self, index: int) -> None:
        """The option groups after a tactic whose configuration holds code (`CODE_CONFIG_TACTICS`):
        each `(name := value)` must be plain data; `+flag`/`-flag` are data too."""
        position = index + 1
        while (opening := self._next(position)) is not None:
            if opening.text in ("+", "-") and self._next(position + 1) is not None:
                position += 2
                continue
            name, assign = self._next(position + 1), self._next(position + 2)
            if opening.text != "(" or name is None or name.kind is not TokenKind.IDENT:
                return
            if assign is None or assign.text != ":=":
                return  # `([h₁, h₂])` or a term: not an option
            end = self._data_value(position + 3, self.code[index])
            if end is None:
                return
            position = end

    def _data_value(self, start: int, tactic: Token) -> int | None:
        """Where the option's `)` is (its index + 1), or None once something that is not data
        was refused."""
        depth = 0
        for position, token in enumerate(self._window(start), start=start):
            if token.text == ")" and depth == 0:
                return position + 1
            if token.text == "{":
                depth += 1
            elif token.text == "}":
                depth -= 1
            if not self._is_data(position, token):
                self.refuse(
                    "meta-code",
                    token,
                    f"Lean compiles and runs a tactic's options (here `{tactic.text}`): they can "
                    "hold a discharger, an oracle, a search procedure, or code that does IO; the "
                    "strict policy accepts only numbers, `true`, `false`, `.value` and "
                    "`{ field := ... }` in them",
                )
                return None
        self.refuse("meta-code", tactic, f"the options of `{tactic.text}` are too long to inspect")
        return None

    def _is_data(self, position: int, token: Token) -> bool:
        previous = self._next(position - 1)
        if token.kind is TokenKind.NUMBER or token.is_word(*_DATA_WORDS):
            return True
        if token.kind is TokenKind.SYMBOL and token.text == ".":
            following = self._next(position + 1)  # `.reducible`: one name, glued
            return (
                following is not None
                and following.kind is TokenKind.IDENT
                and len(following.parts) == 1
                and following.start == token.end
            )
        if token.kind is TokenKind.SYMBOL:
            return token.text in _DATA_SYMBOLS
        if token.kind is not TokenKind.IDENT or len(token.parts) != 1:
            return False
        # a field name (`maxDepth :=`), or the value of `.reducible` (a single name after `.`)
        after_dot = previous is not None and previous.text == "." and previous.end == token.start
        return self._followed_by(position, ":=") or after_dot
