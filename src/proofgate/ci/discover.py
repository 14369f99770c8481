"""Find the theorems of a Lean repository and the locked statement of each, without Lean.

For each `theorem`/`lemma` this gives its full name (namespaces applied), its place, the statement
proofgate checks it against (the file's commands before it, earlier theorems cut to `:= sorry`,
then its own signature with `:= sorry`), and two hashes of normalised text (comments dropped,
whitespace runs made one space):

- `text_sha256`: the theorem's own signature, attributes left out (`@[simp]` changes no statement);
- `context_sha256`: every command before it that can change what the signature means (imports,
  `open`, `variable`, definitions, instances, notation, ...), earlier theorems and `#` commands left
  out, so adding a lemma above a locked result does not unlock it, and adding a local instance does.

`private` theorems and `example`s are not targets: their names are not stable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from proofgate.ci.source import Command, Token, normalised, skip_brackets, split_commands, tokenize
from proofgate.lean.syntax import THEOREM_WORDS, Scopes

__all__ = ["SKIPPED_DIRS", "Theorem", "discover_text", "lean_files"]

#: Directories never searched for sources: build output, dependencies, VCS metadata.
SKIPPED_DIRS = frozenset({".lake", "lake-packages", ".git", "build", "node_modules", ".venv"})

_OPENERS = {"(": ")", "[": "]", "@[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧"}
_CLOSERS = frozenset(_OPENERS.values())


@dataclass(frozen=True)
class Theorem:
    """One theorem of a file, with what CI mode needs to lock and check it."""

    name: str  # full name, namespaces applied
    line: int  # 1-based line of the `theorem` keyword
    column: int  # 0-based column of the keyword
    end_line: int  # last line of the declaration (proof included)
    signature: str  # source text of the declaration up to its proof, attributes left out
    statement: str  # self-contained snippet ending in this theorem with `:= sorry`
    text_sha256: str
    context_sha256: str


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signature_end(command: Command) -> int:
    """Index of the token that ends the signature (`:=`, a line-leading `|`, `where`)."""
    depth = 0
    for index in range(command.keyword_index + 1, len(command.tokens)):
        token = command.tokens[index]
        if token.kind == "symbol" and token.text in _OPENERS:
            depth += 1
        elif token.kind == "symbol" and token.text in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and (
            token.text == ":="
            or (token.text == "|" and token.first_on_line)
            or (token.kind == "ident" and token.text == "where")
        ):
            return index
    return len(command.tokens)


def _attribute_ranges(command: Command) -> list[tuple[int, int]]:
    """Token index ranges `[start, end)` of the `@[...]` groups before the keyword."""
    ranges: list[tuple[int, int]] = []
    tokens = command.tokens
    index = 0
    while index < command.keyword_index:
        if tokens[index].text == "@[":
            end = skip_brackets(tokens, index)
            ranges.append((index, end))
            index = end
        else:
            index += 1
    return ranges


def _signature(text: str, command: Command) -> tuple[str, list[Token]]:
    """The declaration's text and tokens up to its proof, without its attributes."""
    tokens = command.tokens[: _signature_end(command)]
    cuts = _attribute_ranges(command)
    kept = [t for i, t in enumerate(tokens) if not any(lo <= i < hi for lo, hi in cuts)]
    if not tokens:
        return "", []
    pieces: list[str] = []
    position = tokens[0].start
    for lo, hi in cuts:
        pieces.append(text[position : tokens[lo].start])
        position = tokens[hi - 1].end
    pieces.append(text[position : tokens[-1].end])
    return " ".join(piece.strip() for piece in pieces if piece.strip()), kept


def _follow_scopes(scopes: Scopes, command: Command) -> None:
    """Open or close the namespaces and sections a `namespace`, `section`, `mutual` or `end`
    command opens or closes (lean/syntax's rule; names split at their dots as written)."""
    name = command.name()
    if name is not None:
        on_line = command.tokens[command.keyword_index + 1].line == command.keyword.line
        scopes.follow(command.kind, name.split("."), on_line=on_line)
    else:
        scopes.follow(command.kind)


def discover_text(text: str) -> list[Theorem]:
    """Every public theorem of one Lean file, in order."""
    commands = split_commands(tokenize(text))
    scopes = Scopes()
    context_tokens: list[Token] = []
    statement_parts: list[str] = []
    theorems: list[Theorem] = []
    seen: set[str] = set()
    for command in commands:
        kind = command.kind
        if kind in THEOREM_WORDS:
            signature, signature_tokens = _signature(text, command)
            name = command.name()
            modifiers = {t.text for t in command.tokens[: command.keyword_index]}
            if name is not None and "private" not in modifiers:
                full = scopes.full_name(name.split("."))
                if full not in seen:
                    seen.add(full)
                    theorems.append(
                        Theorem(
                            name=full,
                            line=command.keyword.line,
                            column=command.keyword.column,
                            end_line=command.tokens[-1].line,
                            signature=signature,
                            statement="\n\n".join([*statement_parts, signature + " := sorry"])
                            + "\n",
                            text_sha256=_sha256(normalised(signature_tokens)),
                            context_sha256=_sha256(normalised(context_tokens)),
                        )
                    )
            cut = command.tokens[_signature_end(command) - 1]
            statement_parts.append(text[command.start : cut.end] + " := sorry")
        elif kind == "example" or kind.startswith("#"):
            pass
        else:
            context_tokens.extend(command.tokens)
            statement_parts.append(text[command.start : command.tokens[-1].end])
        _follow_scopes(scopes, command)
    return theorems


def lean_files(root: Path) -> list[Path]:
    """`.lean` files under `root`, sorted, outside build output, dependencies and hidden dirs."""
    found: list[Path] = []
    for path in root.rglob("*.lean"):
        parts = path.relative_to(root).parts[:-1]
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in parts):
            continue
        if path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())
