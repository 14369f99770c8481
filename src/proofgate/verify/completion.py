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
from typing import Literal, Protocol

from proofgate.exceptions import SubmissionError
from proofgate.lean.lexer import TokenKind, tokenize
from proofgate.lean.syntax import (
    DECLARATION_WORDS,
    THEOREM_WORDS,
    Scopes,
    is_attribute_use,
    read_header,
)
from proofgate.models import Submission
from proofgate.verify.assemble import Statement, parse_statement

__all__ = [
    "LEAN_LABELS",
    "REASONING_TAGS",
    "TACTIC_WORDS",
    "Completion",
    "NamedDeclaration",
    "declarations",
    "fenced_blocks",
    "plan_submission",
    "read_completion",
    "read_lean_input",
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
    scopes = Scopes()
    found: list[NamedDeclaration] = []
    for index, token in enumerate(code):
        if scopes.read(code, index):
            continue
        following = code[index + 1] if index + 1 < len(code) else None
        if (
            token.is_word(*_NAMED_WORDS)
            and following is not None
            and following.kind is TokenKind.IDENT
            and not is_attribute_use(code, index)
        ):
            found.append(
                NamedDeclaration(
                    token.text,
                    scopes.full_name(following.parts),
                    following.text,
                    following.start,
                    following.end,
                    bool(scopes.namespace),
                )
            )
    return found


def _statement_opens(statement: Statement) -> list[str]:
    """The statement's own `open` commands (a line each, not `open ... in`) before its target:
    a restated theorem without a header of its own is elaborated under them, as the statement."""
    text = statement.text
    end = statement.target.proof_start or len(text)
    opens = []
    for token in tokenize(text):
        if token.start >= end:
            break
        if token.is_word("open") and token.column == 0:
            stop = text.find("\n", token.start)
            line = text[token.start : stop if stop >= 0 else len(text)].rstrip()
            if not line.endswith(" in"):
                opens.append(line)
    return opens


def _restated(lean: str, statement: Statement) -> str | None:
    """`lean` with its target named as the locked statement's: the declaration of that name
    (whatever its kind: the audit refuses one that is no theorem), else the one theorem of the
    same last name, else the only theorem (renamed in place); None if none."""
    target = statement.target_name
    found = declarations(lean)
    if any(declaration.name == target for declaration in found):
        return lean
    theorems = [declaration for declaration in found if declaration.is_theorem]
    short = target.rsplit(".", 1)[-1]
    same = [theorem for theorem in theorems if theorem.name.rsplit(".", 1)[-1] == short]
    chosen = same[0] if len(same) == 1 else theorems[0] if len(theorems) == 1 else None
    if chosen is None:
        return None
    name = f"_root_.{target}" if chosen.in_namespace else target
    return lean[: chosen.start] + name + lean[chosen.end :]


class LockedRequest(Protocol):
    """What a completion is checked against: a reward group's request, or a submission."""

    @property
    def statement(self) -> str | None: ...
    @property
    def target(self) -> str | None: ...
    @property
    def environment(self) -> str: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def policy(self) -> Literal["strict", "permissive"] | None: ...


def plan_submission(
    completion: Completion, request: LockedRequest, statement: Statement
) -> tuple[Submission | None, str]:
    """The submission a read completion makes against the locked statement, and a `no_proof`
    reason. A restatement's target is the declaration named as the statement's target, else the
    only theorem (renamed); the audit checks it against the statement at the Expr level.

    A submission with a reason is a restatement with no target to take: it is checked only so
    that a policy refusal (a cheat) is counted; any other verdict makes it `no_proof`."""
    if completion.kind == "none":
        return None, completion.reason
    common = {
        "statement": request.statement,
        "target": request.target,
        "environment": request.environment,
        "timeout": request.timeout,
        "policy": request.policy,
    }
    if completion.kind == "proof":
        if statement.holes:
            return None, (
                f"the statement has answer holes ({', '.join(statement.holes)}): a proof body "
                "cannot fill them in; the completion must restate the whole theorem"
            )
        return Submission.model_validate({**common, "proof": completion.lean}), ""
    code = _restated(completion.lean, statement)
    reason = ""
    if code is None:
        code = completion.lean
        count = sum(declaration.is_theorem for declaration in declarations(code))
        reason = (
            f"the Lean block has {count} theorems, none named {statement.target_name}: cannot "
            "tell which one is meant to prove it"
            if count
            else f"the Lean block declares no theorem to take for {statement.target_name}"
        )
    if not read_header(tokenize(code)).commands:
        opens = _statement_opens(statement)
        if opens:
            code = "\n".join(opens) + "\n\n" + code
    fields = {**common, "code": code, "answer_holes": list(statement.holes)}
    return Submission.model_validate(fields), reason


def read_lean_input(submission: Submission) -> Submission:
    """The submission as Lean: itself, or with `"input": "completion"` what its `proof` or `code`
    (a model's raw output) makes, read as `/v1/rewards` reads a completion. Without a statement
    the Lean block is compiled as it is; with one it is a proof body or a restated theorem (whose
    target, if it cannot be told, is missing: `failed` with `target_missing`). A completion with
    no Lean in it is a `SubmissionError` naming the field."""
    if submission.input != "completion":
        return submission
    field = "proof" if submission.proof is not None else "code"
    completion = read_completion(getattr(submission, field) or "")
    if completion.kind == "none":
        raise SubmissionError(f"{field}: no Lean to check: {completion.reason}", field=field)
    fields = submission.model_dump(exclude={"input", "code", "proof"})  # the result is Lean
    if submission.statement is None:
        fields["code"] = completion.lean
    else:
        statement = parse_statement(submission.statement, target=submission.target)
        planned, reason = plan_submission(completion, submission, statement)
        if planned is None:  # a proof body where only a restatement can fill the answer holes
            raise SubmissionError(f"{field}: {reason}", field=field)
        fields.update(code=planned.code, proof=planned.proof)
        fields["answer_holes"] = sorted({*submission.answer_holes, *planned.answer_holes})
    try:
        return Submission.model_validate(fields)
    except ValueError as exc:  # the Lean read breaks a field's own limits
        raise SubmissionError(
            f"{field}: the completion does not make a valid submission: {exc}", field=field
        ) from exc
