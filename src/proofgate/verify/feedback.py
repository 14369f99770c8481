"""Feedback a model can act on: Lean's messages with stable categories, goals, and positions in the
submitter's own text, plus the code annotated under each line, compact enough for a prompt.

The categories are decided from the texts Lean v4.32.0 really prints (the REPL transcripts in
shared/lean-repl-transcripts are the reference examples); anything unrecognised is `other`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from proofgate.lean.reply import ReplMessage, ReplPos, ReplSorry
from proofgate.models import Category, Message, Position, Severity, SorryInfo, Violation
from proofgate.verify.assemble import SourceField, SourcePosition

__all__ = [
    "Locator",
    "Place",
    "categorize",
    "feedback_message",
    "goals_in",
    "lean_message",
    "messages_from_repl",
    "policy_messages",
    "render_annotated",
    "sorries_from_repl",
]


class Locator(Protocol):
    """Maps a (line, column) of the checked file to the submitter's text (e.g. `Assembled.locate`),
    or None where the position is proofgate's own."""

    def __call__(self, line: int, column: int, *, end: bool = False) -> SourcePosition | None: ...


_SYNTAX = re.compile(
    r"^(unexpected (token|identifier|end of input)|expected |unterminated |missing end of character"
    r"|invalid escape sequence|unknown tactic|invalid 'import' command|unexpected syntax)",
)
_TYPE = re.compile(
    r"^((application )?type mismatch|type expected|function expected|failed to synthesize"
    r"|argument .* has type|invalid argument|cannot unify|type of .* is not)",
)
_TACTIC = re.compile(
    r"(failed|could not|made no progress|no goals|not found|did not|cannot close|motive is not"
    r"|no applicable|not applicable|unable to)",
)
_HEARTBEATS = re.compile(r"(deterministic\) timeout|maximum number of heartbeats|heartbeats)")
_RECURSION = re.compile(r"(maximum recursion depth|deep recursion|stack overflow)")
_TERMINATION = re.compile(
    r"(fail(ed)? to (show|prove) termination|structural recursion|decreasing_by)"
)


def categorize(text: str, severity: Severity | str = Severity.error) -> Category:
    """The stable category of one Lean message."""
    severity = Severity(severity) if not isinstance(severity, Severity) else severity
    lowered = text.strip().lower()
    first = lowered.split("\n", 1)[0]
    if severity is Severity.info:
        return Category.info
    if _HEARTBEATS.search(first):
        return Category.heartbeats
    if _RECURSION.search(first):
        return Category.max_recursion
    if first.startswith("(kernel)"):
        return Category.kernel
    if "declaration uses 'sorry'" in first or "declaration uses `sorry`" in first:
        return Category.sorry
    if severity is Severity.warning and (
        "linter" in lowered or "deprecated" in first or "unused variable" in first
    ):
        return Category.linter
    if first.startswith(("unknown identifier", "unknown namespace")):
        return Category.unknown_identifier
    if first.startswith(("unknown constant", "unknown declaration", "invalid field")):
        return Category.unknown_constant
    if first.startswith("unsolved goals") or first.startswith("don't know how to synthesize"):
        return Category.unsolved_goals
    if _TERMINATION.search(first):
        return Category.termination
    if _TYPE.search(first):
        return Category.type_mismatch
    if _SYNTAX.search(first) or "; expected " in first:
        return Category.syntax
    if _TACTIC.search(first) or "tactic" in first:
        return Category.tactic_failed
    return Category.other


def goals_in(text: str) -> list[str]:
    """The goals a message shows: after "unsolved goals", after "context:", or any `⊢` block."""
    lines = text.split("\n")
    head = lines[0].strip().lower()
    if head.startswith("unsolved goals"):
        rest = "\n".join(lines[1:])
    elif "context:" in (line.strip() for line in lines):
        index = next(i for i, line in enumerate(lines) if line.strip() == "context:")
        rest = "\n".join(lines[index + 1 :])
    elif "⊢" in text:
        rest = "\n".join(lines[1:])
    else:
        return []
    chunks = [chunk.strip("\n") for chunk in re.split(r"\n\s*\n", rest) if "⊢" in chunk]
    # Lean ends some tactic errors with the goal and then " failed" (`⊢ False failed`): not the goal's
    return [_without_failed(chunk) for chunk in chunks]


def _without_failed(goal: str) -> str:
    cut = re.sub(r"[ \t]+failed\s*$", "", goal)
    return cut if cut.rsplit("\n", 1)[-1].strip() not in ("⊢", "") else goal


@dataclass(frozen=True)
class Place:
    """Where a message or a `sorry` stands: its start, its end if known, and the submitted field
    they are in (None: positions in the checked file itself, when there was nothing to map them)."""

    pos: Position
    end_pos: Position | None = None
    source: SourceField | None = None


def _placed(at: Place | None) -> dict[str, Any]:
    """The position fields a `Message` or a `SorryInfo` takes from `at` (none for no place)."""
    return {} if at is None else {"pos": at.pos, "end_pos": at.end_pos, "source": at.source}


def feedback_message(
    severity: Severity,
    category: Category,
    text: str,
    at: Place | None = None,
    *,
    goals: Sequence[str] = (),
) -> Message:
    """A message for the feedback, `at` a place in the submitter's text (None: no position)."""
    return Message(
        severity=severity, category=category, text=text, goals=list(goals), **_placed(at)
    )


def lean_message(
    text: str, severity: Severity = Severity.error, at: Place | None = None
) -> Message:
    """A message Lean printed: its category read from its text and, for an error, the goals it
    shows."""
    goals = goals_in(text) if severity is Severity.error else []
    return feedback_message(severity, categorize(text, severity), text, at, goals=goals)


def _severity(message: ReplMessage) -> Severity:
    """The REPL's severity as the wire's (its `trace` reads as info)."""
    return Severity.info if message.severity == "trace" else Severity(message.severity)


def _place(
    raw: ReplPos | None, locate: Locator | None, *, end: bool
) -> tuple[Position | None, SourceField | None]:
    if raw is None or raw.line < 1:  # line 0: the REPL's "nowhere"
        return None, None
    if locate is None:
        return Position(line=raw.line, column=raw.column), None
    where = locate(raw.line, raw.column, end=end)
    if where is None:
        return None, None
    return Position(line=where.line, column=where.column), where.field


def _span(raw: ReplMessage | ReplSorry, locate: Locator | None) -> Place | None:
    """Where a REPL message or sorry starts and ends in the submitter's text, and in which field
    (None: it has no start there). An end in another field than the start says nothing useful: it
    is dropped."""
    pos, source = _place(raw.pos, locate, end=False)
    if pos is None:
        return None
    end_pos, end_source = _place(raw.end_pos, locate, end=True)
    return Place(pos, end_pos if end_source == source else None, source)


def messages_from_repl(
    raw_messages: Iterable[ReplMessage], *, locate: Locator | None = None
) -> list[Message]:
    """REPL `messages` (severity, pos, endPos, data) as `Message`s in the submitter's text."""
    return [lean_message(raw.data, _severity(raw), _span(raw, locate)) for raw in raw_messages]


def sorries_from_repl(
    raw_sorries: Iterable[ReplSorry], *, locate: Locator | None = None
) -> list[SorryInfo]:
    """REPL `sorries` (pos, endPos, goal) as `SorryInfo`s placed in the submitter's text."""
    return [SorryInfo(goal=raw.goal, **_placed(_span(raw, locate))) for raw in raw_sorries]


def policy_messages(
    violations: Iterable[Violation],
    *,
    notes: Iterable[Violation] = (),
    source: Literal["code", "proof"] | None = None,
) -> list[Message]:
    """Policy refusals (errors) and notes (info) as messages of category `policy`."""
    messages: list[Message] = []
    for severity, items in ((Severity.error, violations), (Severity.info, notes)):
        for item in items:
            in_statement = item.message.startswith("in the statement: ")
            at = Place(
                Position(line=item.line, column=item.column),
                source="statement" if in_statement else source,
            )
            messages.append(
                feedback_message(severity, Category.policy, f"[{item.rule}] {item.message}", at)
            )
    return messages


# --- the annotated rendering -----------------------------------------------------------------

_LABEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "info"}


def _annotation(
    line_text: str, pos: Position, end_pos: Position | None, label: str, body: str, max_lines: int
) -> list[str]:
    column = min(pos.column, len(line_text))
    if end_pos is not None and end_pos.line == pos.line and end_pos.column > column:
        width = end_pos.column - column
    else:
        width = max(1, len(line_text) - column)
    width = max(1, min(width, max(1, len(line_text) - column)))
    body_lines = body.strip("\n").split("\n") or [""]
    shown = body_lines[:max_lines]
    if len(body_lines) > max_lines:
        shown.append(f"... ({len(body_lines) - max_lines} more lines)")
    indent = " " * column
    out = [f"{indent}{'^' * width} {label}: {shown[0]}"]
    out += [f"{indent}  {more}" for more in shown[1:]]
    return out


def _render(
    text: str,
    notes: list[tuple[Position, Position | None, str, str]],
    unplaced: list[str],
    *,
    context: int,
    max_lines: int,
) -> str:
    lines = text.split("\n")
    width = len(str(len(lines)))
    gutter = " " * width + " | "
    by_line: dict[int, list[tuple[Position, Position | None, str, str]]] = {}
    for note in notes:
        line = min(max(note[0].line, 1), len(lines))
        by_line.setdefault(line, []).append(note)
    if by_line:
        shown = sorted(
            {
                n
                for line in by_line
                for n in range(line - context, line + context + 1)
                if 1 <= n <= len(lines)
            }
        )
    else:
        shown = list(range(1, len(lines) + 1))
    out = list(unplaced)
    previous = 0
    for number in shown:
        if number > previous + 1:
            out.append(" " * width + " ...")
        line_text = lines[number - 1]
        out.append(f"{number:>{width}} | {line_text}")
        for pos, end_pos, label, body in sorted(by_line.get(number, []), key=lambda n: n[0].column):
            rows = _annotation(line_text, pos, end_pos, label, body, max_lines)
            out += [gutter + row for row in rows]
        previous = number
    if shown and shown[-1] != len(lines):
        out.append(" " * width + " ...")
    return "\n".join(out)


def render_annotated(
    text: str,
    messages: Sequence[Message],
    *,
    sorries: Sequence[SorryInfo] = (),
    max_chars: int = 6000,
    context: int = 1,
) -> str:
    """`text` with each message under its line (a caret under its columns), for an LLM prompt.

    Only messages with a position in `text` are placed (pass the ones whose `source` is this
    text); the rest are listed first. Long outputs shrink (less context, shorter messages, then
    errors only) and are finally cut at `max_chars`.
    """
    placed_all: list[tuple[Position, Position | None, str, str, Severity]] = []
    unplaced_all: list[tuple[str, Severity]] = []
    for message in messages:
        label = f"{_LABEL[message.severity]}[{message.category.value}]"
        if message.pos is None:
            first = message.text.strip().split("\n", 1)[0]
            unplaced_all.append((f"{label}: {first}", message.severity))
        else:
            placed_all.append((message.pos, message.end_pos, label, message.text, message.severity))
    for sorry in sorries:
        if sorry.pos is not None:
            placed_all.append(
                (sorry.pos, sorry.end_pos, "sorry", f"goal: {sorry.goal}", Severity.warning)
            )
    attempts = ((context, 12, False), (0, 4, False), (0, 2, True))
    rendered = ""
    for attempt_context, max_lines, errors_only in attempts:
        keep: Callable[[Severity], bool] = (
            (lambda s: s is Severity.error) if errors_only else (lambda s: True)
        )
        placed = [(p, e, lbl, body) for p, e, lbl, body, sev in placed_all if keep(sev)]
        unplaced = [lbl for lbl, sev in unplaced_all if keep(sev)]
        rendered = _render(text, placed, unplaced, context=attempt_context, max_lines=max_lines)
        if len(rendered) <= max_chars:
            return rendered
    cut = rendered[: max(0, max_chars - 40)]
    return cut[: cut.rfind("\n") + 1 if "\n" in cut else len(cut)] + "... (feedback truncated)"
