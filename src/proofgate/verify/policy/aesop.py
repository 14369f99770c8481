"""When an Aesop rule can run the file's own code.

A rule names a builder (`apply`, `forward`, ..., `tactic`) or leaves it to Aesop's default, which
tries `constructors`, then `tactic`, then `apply` (`RuleBuilder.default` in Aesop's
`Builder/Default.lean`). So `@[aesop safe] def t : TacticM Unit`, or `aesop (add safe t)` with such
a `t`, is a tactic rule without the word `tactic`, and `aesop` runs `t`; the name can also reach
the rule through `open ... renaming`, `export`, an alias or a `where` helper. What every such `t`
needs is meta-level code in the file: a tactic's type (`TacticM Unit`, Aesop's `RuleTac`,
`SingleRuleTac`, `TacGen`) or the `Lean`/`Aesop` API it is built from, written by name. So a file
that names any of these registers no Aesop rule, whatever its builder says; a file that names none
has no code of its own an Aesop rule could run.
"""

from __future__ import annotations

from collections.abc import Iterable

from proofgate.lean.lexer import Token, TokenKind
from proofgate.lean.syntax import IMPORT_WORDS
from proofgate.verify.rules import META_WORDS

__all__ = ["meta_code_mention"]

#: Broader than `META_WORDS` (the strict `meta-code` rule): a file registering Aesop rules has no
#: reason to name Lean's namespaces either, and an inferred `TacticM` type needs one of these
#: (`open Lean Elab Tactic`), or `type_of% e` on one of Mathlib's tactics (not a `meta-code` word:
#: the triage's own probes use it).
_GATE_WORDS = META_WORDS | {
    "Lean",
    "Elab",
    "Meta",
    "Aesop",
    "Tactic",
    "type_of",
    "IO",
    "EIO",
    "BaseIO",
    "System",
    "Lake",
}


def meta_code_mention(code: Iterable[Token]) -> Token | None:
    """The first identifier that names meta-level code, if the text has one (an imported module's
    name is not code: `import Aesop` is how a proof file gets `aesop`)."""
    previous: Token | None = None
    for token in code:
        imported = previous is not None and previous.is_word(*IMPORT_WORDS)
        if (
            token.kind is TokenKind.IDENT
            and not imported
            and any(part in _GATE_WORDS for part in token.parts)
        ):
            return token
        previous = token
    return None
