"""Which Aesop rules can run the file's own code.

A rule names a builder (`apply`, `forward`, ..., `tactic`) or leaves it to Aesop's default, which
tries `constructors`, then `tactic`, then `apply` (`RuleBuilder.default` in Aesop's
`Builder/Default.lean`). So `@[aesop safe] def t : TacticM Unit := ...`, or `aesop (add safe t)`
with such a `t`, is a tactic rule without the word `tactic`, and `aesop` runs `t`. A definition
of type `TacticM Unit` can come from an import (trusted code) or from the file itself: a rule
without a builder is refused when it names one of the file's own definitions, or a term
other than a name.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from proofgate.lean.lexer import Token, TokenKind
from proofgate.lean.syntax import MODIFIER_WORDS

__all__ = ["AESOP_BUILDERS", "decorated_definition", "own_definitions", "rule_runs_own_code"]

#: Aesop's rule builders (`Aesop/Frontend/RuleExpr.lean`).
AESOP_BUILDERS = frozenset(
    {
        "apply",
        "forward",
        "destruct",
        "constructors",
        "cases",
        "cases_or",
        "simp",
        "unfold",
        "tactic",
    }
)
#: Aesop's rule phases and what else a rule may say besides its builder and its term.
_RULE_WORDS = frozenset({"safe", "unsafe", "norm", "add", "erase", "rule_sets"})
#: Declarations that can have a code type such as `TacticM Unit` (a theorem's type is a Prop).
CODE_DEFINITION_WORDS = frozenset({"def", "abbrev", "opaque", "instance"})


def own_definitions(code: Sequence[Token]) -> frozenset[str]:
    """The last name components of the definitions the text makes that could hold code."""
    return frozenset(
        following.parts[-1]
        for token, following in itertools.pairwise(code)
        if token.is_word(*CODE_DEFINITION_WORDS) and following.kind is TokenKind.IDENT
    )


def decorated_definition(code: Sequence[Token], after: int) -> Token | None:
    """The keyword of the declaration that attributes ending just before `after` decorate, if it
    is a definition that could hold code (`def`, `abbrev`, `opaque`, `instance`)."""
    for token in code[after : after + len(MODIFIER_WORDS) + 1]:
        if token.is_word(*MODIFIER_WORDS):
            continue
        return token if token.is_word(*CODE_DEFINITION_WORDS) else None
    return None


def rule_runs_own_code(rule: Sequence[Token], own: frozenset[str]) -> Token | None:
    """For one rule of an `aesop (add ...)` clause (its tokens, without the separating commas):
    the token that makes it a possible tactic rule of the file's own code, if any."""
    if any(token.is_word(*AESOP_BUILDERS) for token in rule):
        return None  # a named builder: `tactic` is refused on its own, the others run no code
    for position, token in enumerate(rule):
        options = position + 1 < len(rule) and rule[position + 1].is_word("rule_sets")
        if token.text == "(" and not options:
            return token  # a term, not a name: its type decides the builder
        if (
            token.kind is TokenKind.IDENT
            and not token.is_word(*_RULE_WORDS)
            and token.parts[-1] in own
        ):
            return token
    return None
