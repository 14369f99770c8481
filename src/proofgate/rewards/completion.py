"""Reading a raw model completion: its reasoning stripped, its last fenced Lean block taken, read as
a proof body or as a restated theorem.

A completion is the model's output alone, never the prompt (which usually holds the statement's own
Lean block). Reasoning (`<think>...</think>` and the like, also a closing tag whose opening was in
the prompt, and an opening tag never closed) is dropped first, so a block inside it is never taken.
The last fenced block labelled `lean4`, `lean` or not at all is the answer; a block with a
`theorem`, `lemma`, `example` or an `import` is a restated theorem (`theorem`), anything else a
proof body (`proof`) for the statement's `sorry`.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from proofgate.lean.lexer import Token, TokenKind, tokenize
from proofgate.lean.syntax import DECLARATION_WORDS, THEOREM_WORDS

__all__ = [
    "LEAN_LABELS",
    "REASONING_TAGS",
    "TACTIC_WORDS",
    "Completion",
    "NamedDeclaration",
    "declarations",
    "fenced_blocks",
    "read_completion",
    "strip_reasoning",
]

#: Tags whose content is the model's reasoning, not its answer.
REASONING_TAGS = ("think", "thinking", "reasoning", "reflection", "scratchpad")
#: Info strings of a fenced block that hold Lean ("" is an unlabelled block).
LEAN_LABELS = frozenset({"lean4", "lean", ""})

_TAGS = "|".join(REASONING_TAGS)
_PAIRED = re.compile(rf"<({_TAGS})\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_CLOSING = re.compile(rf"</(?:{_TAGS})\s*>", re.IGNORECASE)
_OPENING = re.compile(rf"<(?:{_TAGS})\b[^>]*>", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\n]*?)[ \t]*$")

#: Tactics a proof body written without `by` commonly starts with; any other body is a term.
# fmt: off
TACTIC_WORDS = frozenset(
    {
        "aesop", "all_goals", "any_goals", "apply", "assumption", "by_cases", "by_contra",
        "calc", "cases", "change", "constructor", "contradiction", "convert", "decide",
        "exact", "exfalso", "ext", "field_simp", "first", "focus", "funext", "gcongr",
        "have", "induction", "interval_cases", "intro", "intros", "left", "linarith",
        "match", "nlinarith", "norm_cast", "norm_num", "obtain", "omega", "positivity",
        "push_cast", "push_neg", "rcases", "refine", "repeat", "rfl", "right", "ring",
        "ring_nf", "rintro", "rw", "rwa", "show", "simp", "simp_all", "simpa", "specialize",
        "split", "subst", "suffices", "tauto", "trivial", "try", "unfold", "use", "zify",
    }
)
# fmt: on
#: Words that make a block a restated theorem (a file), not a proof body.
_FILE_WORDS = THEOREM_WORDS | {"example", "import"}
#: Declarations that have a name (not `example`).
_NAMED_WORDS = DECLARATION_WORDS - {"example"}


@dataclass(frozen=True)
class Completion:
    """What a completion holds: a proof body, a restated theorem, or no Lean (`none`, and why)."""

    kind: Literal["proof", "theorem", "none"]
    lean: str = ""
    reason: str = ""


def strip_reasoning(text: str) -> str:
    """`text` without its reasoning: paired tags, then everything up to a closing tag left over
    (its opening tag was in the prompt), then everything from an opening tag never closed."""
    text = _PAIRED.sub("", text)
    closings = list(_CLOSING.finditer(text))
    if closings:
        text = text[closings[-1].end() :]
    opening = _OPENING.search(text)
    if opening is not None:
        text = text[: opening.start()]
    return text


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of `text` as (label, content), in order (CommonMark's fences: three or
    more backticks or tildes, closed by at least as many of the same; the label is the info
    string's first word, lowercased). A block left open at the end runs to the end."""
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    label = ""
    lines: list[str] = []
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None:
            if match is not None:
                fence, lines = match.group(1), []
                label = match.group(2).split(maxsplit=1)[0].lower() if match.group(2) else ""
            continue
        closes = (
            match is not None
            and not match.group(2)
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
        )
        if closes:
            blocks.append((label, "\n".join(lines)))
            fence = None
        else:
            lines.append(line)
    if fence is not None:
        blocks.append((label, "\n".join(lines)))
    return blocks


def read_completion(text: str, *, unfenced: bool = False) -> Completion:
    """The Lean a completion offers, read as a proof body or a restated theorem.

    With `unfenced`, a completion without a fenced block is read whole as Lean."""
    answer = strip_reasoning(text)
    blocks = [content for label, content in fenced_blocks(answer) if label in LEAN_LABELS]
    blocks = [content for content in blocks if content.strip()]
    if blocks:
        lean = blocks[-1]
    elif unfenced and answer.strip() and not fenced_blocks(answer):
        lean = answer
    else:
        return Completion("none", reason=_why_none(text, answer))
    code = [token for token in tokenize(lean) if token.is_code]
    if not code:
        return Completion("none", reason="the Lean block holds only comments")
    if any(token.is_word(*_FILE_WORDS) for token in code):
        return Completion("theorem", lean.strip("\n"))
    return Completion("proof", _proof_body(lean))


def _why_none(text: str, answer: str) -> str:
    if not answer.strip():
        return (
            "the completion is all reasoning: no answer after it"
            if text.strip()
            else "the completion is empty"
        )
    if fenced_blocks(answer):
        return "no fenced block labelled lean4, lean or unlabelled holds Lean"
    return "no fenced Lean block (```lean4 ... ```) in the completion, after its reasoning"


def _proof_body(lean: str) -> str:
    """The body as the statement's `sorry` is replaced by it: `by ...` or a term. A leading `:=`
    is dropped; tactics written without `by` get one; a `by` whose tactics start on the next line
    has them indented under it."""
    body = textwrap.dedent(lean.strip("\n")).strip()
    code = [token for token in tokenize(body) if token.is_code]
    if code and code[0].text == ":=":
        body = textwrap.dedent(body[code[0].end :].strip("\n")).strip()
        code = [token for token in tokenize(body) if token.is_code]
    if not code:
        return body
    first = code[0]
    if first.is_word("by"):
        rest = body[first.end :].lstrip(" \t")
        if rest.startswith("\n"):  # `by` alone on its line
            tactics = textwrap.dedent(rest[1:]).rstrip()
            return body[: first.end] + "\n" + textwrap.indent(tactics, "  ")
        return body
    if first.kind is TokenKind.IDENT and first.text in TACTIC_WORDS:
        return "by\n" + textwrap.indent(body, "  ")
    return body


@dataclass(frozen=True)
class NamedDeclaration:
    """A named declaration of a restated file: its keyword, full name and where its name is."""

    keyword: str  # `theorem`, `lemma`, `def`, `axiom`, ...
    name: str  # namespaces applied; `_root_` resolved
    declared: str  # as written
    start: int  # offsets of the name token
    end: int
    in_namespace: bool

    @property
    def is_theorem(self) -> bool:
        return self.keyword in THEOREM_WORDS


def declarations(lean: str) -> list[NamedDeclaration]:
    """The named declarations of `lean` (theorems, definitions, axioms, ...), with their full
    names (enclosing `namespace`s applied), in order."""
    code = [token for token in tokenize(lean) if token.is_code]
    scopes: list[tuple[str, tuple[str, ...]]] = []
    found: list[NamedDeclaration] = []
    for index, token in enumerate(code):
        following = code[index + 1] if index + 1 < len(code) else None
        if following is None or following.kind is not TokenKind.IDENT:
            following = None
        same_line = following is not None and following.line == token.line
        if token.is_word("namespace") and following is not None:
            scopes.extend(("namespace", (part,)) for part in following.parts)
        elif token.is_word("section", "mutual"):
            named = token.is_word("section") and same_line and following is not None
            scopes.append(("section", following.parts if named and following else ()))
        elif token.is_word("end"):
            if scopes and scopes[-1][0] == "section":
                scopes.pop()
            else:
                parts = following.parts if same_line and following is not None else ()
                for _ in range(max(1, len(parts))):
                    if scopes:
                        scopes.pop()
        elif (
            token.is_word(*_NAMED_WORDS)
            and following is not None
            and not _attribute_use(code, index)
        ):
            prefix = [part for kind, scope in scopes if kind == "namespace" for part in scope]
            if following.parts and following.parts[0] == "_root_":
                name = ".".join(following.parts[1:])
            else:
                name = ".".join([*prefix, *following.parts])
            found.append(
                NamedDeclaration(
                    token.text,
                    name,
                    following.text,
                    following.start,
                    following.end,
                    bool(prefix),
                )
            )
    return found


def _attribute_use(code: list[Token], index: int) -> bool:
    """`instance` inside `@[instance]`, `attribute [instance]`, `deriving instance`."""
    before = code[index - 1] if index else None
    return before is not None and (before.text in ("[", ",", "@[") or before.is_word("deriving"))
