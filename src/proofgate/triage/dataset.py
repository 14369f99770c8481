"""A benchmark's statements as `proofgate audit-statements` reads them, and the rules of the audit
that need no Lean: the truncating-arithmetic check and the binder-name-free hash of a type Lean
printed.

Input: JSONL, one statement a line, in the shapes miniF2F, ProofNet and PutnamBench are published
in. Fields (the first one present is used; other keys are ignored):

- name: `name`, `id`, `problem_name`, `full_name` (required; unique within one input);
- formal statement: `formal_statement` (miniF2F, ProofNet), `lean4_statement` (PutnamBench),
  `statement`, `lean4_code` (required): a theorem whose proof is `sorry`, or which ends at `:=` or
  `:= by`, where `sorry` is added;
- informal statement: `informal_statement` (PutnamBench), `nl_statement` (ProofNet),
  `informal_prefix` (miniF2F, a doc comment), `informal` (optional);
- header: `header`, `src_header` (optional): the imports, `open`s and options written before
  the statement. Without one, and without an `import` in the statement, `import Mathlib`.

Several inputs are several lineages of one benchmark: statements are matched across them by name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from proofgate.lean.lexer import Token, TokenKind, tokenize

__all__ = [
    "DatasetStatement",
    "Lineage",
    "TruncatingArithmetic",
    "binder_free_hash",
    "binder_free_type",
    "read_lineages",
    "truncating_arithmetic",
]

NAME_FIELDS = ("name", "id", "problem_name", "full_name")
FORMAL_FIELDS = ("formal_statement", "lean4_statement", "statement", "lean4_code")
INFORMAL_FIELDS = ("informal_statement", "nl_statement", "informal_prefix", "informal")
HEADER_FIELDS = ("header", "src_header")
DEFAULT_HEADER = "import Mathlib\n"


@dataclass(frozen=True)
class DatasetStatement:
    """One line of an input: where it is, what it says, or why it cannot be read."""

    lineage: str
    line: int
    name: str
    formal: str  # as the input has it
    informal: str | None
    header: str | None
    lean: str  # the whole Lean snippet triaged: header, then the statement proved by `sorry`
    error: str | None = None  # the line is unusable: what is wrong with it

    @property
    def key(self) -> str:
        """The statement's id in the audit's records and report: `lineage/name`."""
        return f"{self.lineage}/{self.name}"


@dataclass(frozen=True)
class Lineage:
    """One input file."""

    label: str  # the file's stem, made unique among the inputs
    path: Path
    statements: tuple[DatasetStatement, ...]


def _first(value: dict[str, object], fields: tuple[str, ...]) -> str | None:
    for key in fields:
        if isinstance(value.get(key), str) and str(value[key]).strip():
            return str(value[key])
    return None


def _informal(text: str | None) -> str | None:
    """The informal text, without the `/-- ... -/` of a miniF2F `informal_prefix`."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith(("/--", "/-")) and stripped.endswith("-/"):
        stripped = stripped.removeprefix("/--").removeprefix("/-").removesuffix("-/").strip()
    return stripped or None


def _with_sorry(formal: str) -> str:
    """The statement proved by `sorry`: miniF2F writes `:= by`, ProofNet `:=`."""
    text = formal.rstrip()
    if re.search(r":=\s*by$", text):
        return text + " sorry\n"
    if text.endswith(":="):
        return text + " sorry\n"
    return text + "\n"


def _lean_text(formal: str, header: str | None) -> str:
    statement = _with_sorry(formal)
    if header is not None:
        return header.rstrip("\n") + "\n\n" + statement
    if any(token.is_word("import") for token in tokenize(formal) if token.is_code):
        return statement
    return DEFAULT_HEADER + "\n" + statement


def _read_line(lineage: str, number: int, raw: str) -> DatasetStatement:
    def unusable(name: str, why: str) -> DatasetStatement:
        return DatasetStatement(lineage, number, name, "", None, None, "", error=why)

    try:
        value = json.loads(raw)
    except ValueError as exc:
        return unusable(f"line:{number}", f"not JSON: {exc}")
    if not isinstance(value, dict):
        return unusable(f"line:{number}", "not a JSON object")
    name = _first(value, NAME_FIELDS)
    formal = _first(value, FORMAL_FIELDS)
    if name is None:
        return unusable(
            f"line:{number}", f"no name: give one of the fields {', '.join(NAME_FIELDS)}"
        )
    if formal is None:
        fields = ", ".join(FORMAL_FIELDS)
        return unusable(name, f"no formal statement: give one of the fields {fields}")
    informal = _informal(_first(value, INFORMAL_FIELDS))
    header = _first(value, HEADER_FIELDS)
    return DatasetStatement(
        lineage, number, name, formal, informal, header, _lean_text(formal, header)
    )


def read_lineages(paths: list[Path]) -> list[Lineage]:
    """Every input, read whole. Raises `OSError`/`UnicodeDecodeError` for an unreadable file; a
    bad line, or a name already used in its input, is a statement with an `error`."""
    labels: list[str] = []
    for path in paths:
        label, suffix = path.stem, 2
        while label in labels:
            label, suffix = f"{path.stem}-{suffix}", suffix + 1
        labels.append(label)
    lineages = []
    for label, path in zip(labels, paths, strict=True):
        statements: list[DatasetStatement] = []
        seen: set[str] = set()
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            statement = _read_line(label, number, raw)
            if statement.name in seen:
                statement = DatasetStatement(
                    label,
                    number,
                    f"{statement.name}@line:{number}",
                    statement.formal,
                    statement.informal,
                    statement.header,
                    "",
                    error=f"the name {statement.name} is already used in {path.name}; "
                    "names must be unique within one input",
                )
            seen.add(statement.name)
            statements.append(statement)
        lineages.append(Lineage(label, path, tuple(statements)))
    return lineages


# --- truncating arithmetic ----------------------------------------------------------------------

_NATURAL = frozenset({"ℕ", "Nat"})
_INTEGER = frozenset({"ℤ", "Int"})
_FIELD = frozenset({"ℝ", "Real", "ℚ", "Rat", "ℂ", "Complex", "NNReal", "ℝ≥0", "EReal"})
#: What in an informal text speaks of real numbers, fractions or negative values.
_INFORMAL_SIGNS = re.compile(
    r"\breal(?:s| numbers?)?\b|\bfraction(?:s|al)?\b|\brational\b|\bnegative\b|\bdecimal\b"
    r"|\\frac|\\dfrac|\\tfrac|\\mathbb\s*\{?\s*[RQ]\b|[ℝℚ]|\b\d+\s*/\s*\d+\b"
    r"|(?<![\w)\]}])(?<![\w)\]}] )-\d",  # a negative number: `-3`, not `n - 3` or `n -3`
    re.IGNORECASE,
)
_OPERAND_END = frozenset({")", "]", "}", "⌋", "⌉", "|"})


@dataclass(frozen=True)
class TruncatingArithmetic:
    """What the rule saw: the truncating operators (`line:column op`), the integer types the
    statement uses, and the informal words that speak of reals, fractions or negatives."""

    operators: tuple[str, ...]
    types: tuple[str, ...]
    informal_signs: tuple[str, ...]


def _binary(tokens: list[Token], index: int) -> bool:
    """Is the operator at `index` binary: does an operand end right before it?"""
    if index == 0:
        return False
    before = tokens[index - 1]
    return before.kind in (TokenKind.IDENT, TokenKind.NUMBER) or before.text in _OPERAND_END


def truncating_arithmetic(
    statement: DatasetStatement, *, target_text: str | None = None
) -> TruncatingArithmetic | None:
    """The rule (syntactic on the formal statement, semantic on the informal one): the statement
    (its formal text without the header, or `target_text`) names ℕ or ℤ and no field (ℝ, ℚ, ℂ),
    and uses a binary `/` (ℕ or ℤ) or a binary `-` (with ℕ): every such operator truncates.
    None when the formal side does not hold; else what was seen, `informal_signs` empty when the
    informal text (if any) speaks of no real number, fraction or negative value."""
    tokens = [t for t in tokenize(target_text or statement.formal) if t.is_code]
    words = {t.text for t in tokens if t.kind is TokenKind.IDENT}
    naturals, integers = words & _NATURAL, words & _INTEGER
    if words & _FIELD or not (naturals or integers):
        return None
    truncating = {"/"} | ({"-"} if naturals else set())
    operators = tuple(
        f"{t.line}:{t.column} {t.text}"
        for index, t in enumerate(tokens)
        if t.kind is TokenKind.SYMBOL and t.text in truncating and _binary(tokens, index)
    )
    if not operators:
        return None
    signs: tuple[str, ...] = ()
    if statement.informal is not None:
        found = (m.group(0).strip() for m in _INFORMAL_SIGNS.finditer(statement.informal))
        signs = tuple(dict.fromkeys(found))
    return TruncatingArithmetic(operators, tuple(sorted(naturals | integers)), signs)


# --- the binder-name-free type ------------------------------------------------------------------

#: Notations after which Lean prints binder names: `∀ x y, ...`, `fun x => ...`, `∑ i ∈ s, ...`.
_BINDING = frozenset({"∀", "∃", "∃!", "Π", "Σ", "∑", "∏", "⋃", "⋂", "⨆", "⨅", "λ", "fun"})
#: Where a binder list ends.
_BINDERS_END = frozenset({",", "=>", "↦", "|"})


def _renamed(tokens: list[Token]) -> list[str]:
    """The tokens' texts with every bound name replaced by `x1`, `x2`, ... in binding order.

    A name is bound by the binder list after a `_BINDING` notation (`∀ (x y : T) {z : U}, ...`,
    `∃ x y, ...`, `∃ x > 0, ...`, `fun x => ...`) and by set-builder braces (`{x | ...}`); from its
    binding on, each use of it is renamed (a later binding of the same name takes over)."""
    out = [t.text for t in tokens]
    canonical: dict[str, str] = {}
    bound: list[str] = []  # every binding, in order

    def use(index: int) -> None:
        if tokens[index].kind is TokenKind.IDENT:
            out[index] = canonical.get(tokens[index].text, tokens[index].text)

    def bind(indices: list[int]) -> None:
        for index in indices:
            bound.append(tokens[index].text)
            canonical[tokens[index].text] = out[index] = f"x{len(bound)}"

    def group(start: int) -> int:
        """A bracketed binder group `(x y : T)` from its opening bracket: past its close."""
        names, position = [], start + 1
        while position < len(tokens) and tokens[position].kind is TokenKind.IDENT:
            names.append(position)
            position += 1
        depth = 1
        while position < len(tokens) and depth:
            depth += tokens[position].text in "({[⦃"
            depth -= tokens[position].text in ")}]⦄"
            use(position)
            position += 1
        bind(names)
        return position

    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.text in _BINDING or token.is_word("fun", "λ"):
            position, names, naming = index + 1, [], True
            while position < len(tokens) and tokens[position].text not in _BINDERS_END:
                current = tokens[position]
                if naming and current.text in "({[⦃":
                    position = group(position)
                    continue
                if naming and current.kind is TokenKind.IDENT:
                    names.append(position)
                else:  # `: T` or a binder predicate `∈ s`, `> 0`: uses only, to the list's end
                    naming = False
                    depth = 0
                    while position < len(tokens) and not (
                        depth == 0 and tokens[position].text in _BINDERS_END
                    ):
                        depth += tokens[position].text in "({[⦃"
                        depth -= tokens[position].text in ")}]⦄"
                        use(position)
                        position += 1
                    break
                position += 1
            bind(names)
            index = position
            continue
        if (
            token.text == "{"
            and index + 2 < len(tokens)
            and tokens[index + 1].kind is TokenKind.IDENT
            and tokens[index + 2].text == "|"
        ):
            bind([index + 1])  # set-builder `{x | p x}`
            index += 2
            continue
        use(index)
        index += 1
    return out


def binder_free_type(printed: str) -> str:
    """A type as Lean printed it, with bound names replaced by position and whitespace made one
    space: two statements with the same elaborated type up to binder names print the same."""
    tokens = [t for t in tokenize(printed) if t.is_code]
    return " ".join(_renamed(tokens))


def binder_free_hash(printed: str) -> str:
    """sha256 of `binder_free_type(printed)`."""
    return hashlib.sha256(binder_free_type(printed).encode("utf-8")).hexdigest()
