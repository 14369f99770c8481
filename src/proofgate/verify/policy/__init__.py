"""The policy pass: refuse, before Lean runs, source that reaches the host or the checker.

It reads tokens (`proofgate.lean.lexer`), so comments and plain strings never trigger it and
`open ... in` hides nothing. It is defence in depth: the sandbox holds whatever slips past it, and
the trusted audit never relies on it. Every rule is listed in `RULES` and in docs/policy.md.
Two profiles: `strict` (the default) and `permissive` (pure `#eval`, `partial`, `native_decide`,
traces allowed; heartbeat limits above the cap lowered instead of refused).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from proofgate.models import Violation
from proofgate.verify.policy.config import (
    DEFAULT_IMPORT_ROOTS,
    PolicyConfig,
    PolicyResult,
    Profile,
    effective_profile,
)
from proofgate.verify.policy.scan import Scan
from proofgate.verify.rules import MAX_VIOLATIONS, RULES, Rule

if TYPE_CHECKING:
    from proofgate.verify.assemble import Assembled

__all__ = [
    "DEFAULT_IMPORT_ROOTS",
    "RULES",
    "PolicyConfig",
    "PolicyResult",
    "Profile",
    "Rule",
    "check_source",
    "check_submission",
    "effective_profile",
]


def check_source(text: str, config: PolicyConfig | None = None) -> PolicyResult:
    """Run every rule over one Lean text. Never raises on any input."""
    return Scan(text, config or PolicyConfig()).run()


#: Statements up to this many characters have their policy result remembered (`_check_statement`).
_REMEMBER_STATEMENT_CHARACTERS = 16 * 1024


def _check_statement(text: str, config: PolicyConfig) -> PolicyResult:
    """`check_source` of a statement alone. A short statement is checked once per config while it
    is in use: training loops send one statement with many proofs. (The assembled file, statement
    and proof together, is new with every proof and is always checked.)"""
    if len(text) <= _REMEMBER_STATEMENT_CHARACTERS:
        return _remembered_statement_check(text, config)
    return check_source(text, config)


@functools.lru_cache(maxsize=256)
def _remembered_statement_check(text: str, config: PolicyConfig) -> PolicyResult:
    return check_source(text, config)  # a frozen result of a pure function of (text, config)


def check_submission(assembled: Assembled, config: PolicyConfig | None = None) -> PolicyResult:
    """The policy over a whole submission: the statement alone (the audit compiles it as the
    trusted reference) and the assembled file (a `proof` can close its block and add commands).

    Violations are placed in the submitter's own text; those in the statement say so. `code` is
    the assembled text and `statement` the statement, each with any permissive rewrite applied.
    """
    config = config or PolicyConfig()
    found: dict[str, list[Violation]] = {"violations": [], "notes": []}
    seen: set[tuple[str, str, str, int, int]] = set()

    def add(bucket: str, violation: Violation, where: str, line: int, column: int) -> None:
        key = (bucket, violation.rule, where, line, column)
        if key not in seen:
            seen.add(key)
            prefix = "in the statement: " if where == "statement" else ""
            found[bucket].append(
                Violation(
                    rule=violation.rule,
                    line=line,
                    column=column,
                    message=prefix + violation.message,
                )
            )

    statement_text: str | None = None
    if assembled.statement is not None:
        alone = _check_statement(assembled.statement.text, config)
        statement_text = alone.code
        for bucket, items in (("violations", alone.violations), ("notes", alone.notes)):
            for item in items:
                add(bucket, item, "statement", item.line, item.column)
    whole = check_source(assembled.text, config)
    for bucket, items in (("violations", whole.violations), ("notes", whole.notes)):
        for item in items:
            where = assembled.locate(item.line, item.column)
            if where is None:  # text proofgate added (the newline after a borrowed header)
                add(bucket, item, "statement", item.line, item.column)
            else:
                add(bucket, item, where.field, where.line, where.column)
    violations = tuple(found["violations"][:MAX_VIOLATIONS])
    return PolicyResult(violations, tuple(found["notes"]), whole.code, statement_text)
