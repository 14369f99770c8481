"""Lean 4's surface syntax as proofgate reads it: the one owner of its words and of the header.

Every reader of Lean source in proofgate (the header split of `proofgate.lean.header`, assembly and
the policy in `proofgate.verify`, the probes, CI's theorem finder) takes its words from here, and
every reader of a header uses `read_header` (or, for one `import`, `imported_module`), so none can
read a file differently from the others. The rules follow Lean v4.32's own sources:

- `src/Lean/Parser/Module.lean`: `header := ("module")? ("prelude")? import*` and
  `import := atomic(("public")? ("meta")? "import ") ("all")? ident`: `public`/`meta` belong to an
  import only when `import` follows them (`public section` is a command), `all` only after it.
- `src/Lean/Elab/Import.lean` (`HeaderSyntax.imports`): each import loads the module its identifier
  names, whatever its modifiers (`import all M` loads `M`); without `prelude`, `Init` comes first.
- `src/Lean/Parser/Basic.lean` (`whitespace`): `--` comments and nested `/- -/` comments may stand
  anywhere between the header's tokens; a doc comment (`/--`, `/-!`) is a token, so it ends it.
- `src/Lean/Parser/Command.lean`: `declModifiers` (doc comment, attributes, then `private` or
  `public`, `protected`, `meta` or `noncomputable`, `unsafe`, `partial` or `nonrec`) and the
  declaration keywords of `declaration` (Mathlib adds `lemma`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from proofgate.lean.lexer import Token, TokenKind

__all__ = [
    "ATTRIBUTE_KINDS",
    "CLOSE_BRACKETS",
    "COMMAND_WORDS",
    "DECLARATION_WORDS",
    "HEADER_WORDS",
    "IMPORT_WORDS",
    "INITIALIZE_WORDS",
    "MODIFIER_WORDS",
    "NOTATION_WORDS",
    "OPEN_BRACKETS",
    "RESERVED_WORDS",
    "RUN_CODE_WORDS",
    "SIMPROC_WORDS",
    "SYNTAX_WORDS",
    "TACTIC_COMMAND_WORDS",
    "TERM_FOLLOWS",
    "THEOREM_WORDS",
    "Header",
    "HeaderCommand",
    "Scopes",
    "imported_module",
    "is_attribute_use",
    "nesting",
    "read_header",
]

#: The keywords of `declaration` (Command.lean), with Mathlib's `lemma`.
DECLARATION_WORDS = frozenset(
    {
        "abbrev",
        "axiom",
        "class",
        "def",
        "example",
        "inductive",
        "instance",
        "lemma",
        "opaque",
        "structure",
        "theorem",
    }
)
THEOREM_WORDS = frozenset({"theorem", "lemma"})
#: The keywords of `declModifiers` (Command.lean), which stand between attributes and a keyword.
MODIFIER_WORDS = frozenset(
    {"private", "public", "protected", "meta", "noncomputable", "unsafe", "partial", "nonrec"}
)
#: The words that may stand right before an imported module's name (`public meta import all M`).
IMPORT_WORDS = frozenset({"public", "meta", "import", "all"})
#: `attrKind` (`local instance`, `scoped notation`): also written before a command's keyword.
ATTRIBUTE_KINDS = frozenset({"local", "scoped"})
#: Commands that add notation (they can change what later text parses as).
NOTATION_WORDS = frozenset(
    {"notation", "notation3", "infix", "infixl", "infixr", "prefix", "postfix", "binder_predicate"}
)
#: Commands that run meta code as they are elaborated.
RUN_CODE_WORDS = frozenset({"run_cmd", "run_elab", "run_meta"})
#: Commands that extend Lean's syntax or elaborator with code.
SYNTAX_WORDS = frozenset(
    {
        "elab",
        "elab_rules",
        "macro",
        "macro_rules",
        "syntax",
        "declare_syntax_cat",
        "binder_predicate",
    }
)
#: Commands that register a simp procedure (code simp runs).
SIMPROC_WORDS = frozenset(
    {
        "simproc",
        "dsimproc",
        "simproc_decl",
        "dsimproc_decl",
        "builtin_simproc",
        "builtin_dsimproc",
        "builtin_simproc_decl",
        "builtin_dsimproc_decl",
    }
)
#: Commands whose code runs when the module is loaded.
INITIALIZE_WORDS = frozenset({"initialize", "builtin_initialize"})
#: Commands that run code or define syntax (the policy refuses them; they still end a command),
#: and `add_decl_doc`.
_CODE_COMMAND_WORDS = (
    RUN_CODE_WORDS | SYNTAX_WORDS | SIMPROC_WORDS | INITIALIZE_WORDS | frozenset({"add_decl_doc"})
)
#: A word that starts a command: what ends the previous one.
COMMAND_WORDS = (
    DECLARATION_WORDS
    | MODIFIER_WORDS
    | ATTRIBUTE_KINDS
    | NOTATION_WORDS
    | _CODE_COMMAND_WORDS
    | frozenset(
        {
            "attribute",
            "deriving",
            "end",
            "export",
            "import",
            "include",
            "mutual",
            "namespace",
            "omit",
            "open",
            "section",
            "set_option",
            "universe",
            "variable",
        }
    )
)
#: Command words that tactic blocks use too (`open Foo in`, `set_option x y in` inside a proof).
TACTIC_COMMAND_WORDS = frozenset({"open", "set_option"})
#: The words of a header (Module.lean); `public`, `meta` and `all` only count next to `import`.
HEADER_WORDS = frozenset({"module", "prelude", "import"})
#: Keywords a term follows, even on the next line (`calc` then `#s ≤ ...`: `#s` is notation there).
TERM_FOLLOWS = frozenset(
    {
        "calc",
        "else",
        "exists",
        "forall",
        "from",
        "fun",
        "have",
        "if",
        "let",
        "match",
        "show",
        "then",
    }
)
_TERM_WORDS = TERM_FOLLOWS | {
    "at",
    "by",
    "do",
    "in",
    "sorry",
    "where",
    "with",
    "Prop",
    "Sort",
    "Type",
}
#: Words a name component must not be spelled as without «»: they are tokens to Lean's parser.
RESERVED_WORDS = COMMAND_WORDS | HEADER_WORDS | _TERM_WORDS

OPEN_BRACKETS = frozenset({"(", "[", "{", "⟨", "⦃", "@[", "#[", "%["})
CLOSE_BRACKETS = frozenset({")", "]", "}", "⟩", "⦄"})


def nesting(token: Token, depth: int) -> int:
    """The bracket depth after `token` (never below 0)."""
    if token.kind is TokenKind.SYMBOL and token.text in OPEN_BRACKETS:
        return depth + 1
    if token.kind is TokenKind.SYMBOL and token.text in CLOSE_BRACKETS:
        return max(0, depth - 1)
    return depth


#: What an attribute entry follows: the list's opening bracket or the comma before it.
_ATTRIBUTE_LIST = frozenset({"[", "@[", ","})


def is_attribute_use(code: Sequence[Token], index: int) -> bool:
    """Whether the declaration word at `code[index]` (code tokens) names an attribute or a derived
    instance rather than starting a declaration: `@[instance]`, `@[simp, instance]`,
    `attribute [local instance] f`, `attribute [-instance] f`, `deriving instance Repr for T`.

    An attribute entry is `attrKind attr` or `-ident` (Lean's `Term.attrInstance` and `eraseAttr`),
    so one `local`, `scoped` or `-` may stand between the list and the word. At a command's start
    `local instance` and `scoped instance` declare an instance (Lean's `instance` command takes an
    `attrKind`). Read from Lean's Parser/Command.lean and Parser/Term.lean; untested against real
    Lean."""
    before = index - 1
    if before >= 0 and (code[before].is_word(*ATTRIBUTE_KINDS) or _symbol(code[before], "-")):
        before -= 1  # the entry's kind or erasure: the list must come before it
        return before >= 0 and _symbol(code[before], *_ATTRIBUTE_LIST)
    return before >= 0 and (
        _symbol(code[before], *_ATTRIBUTE_LIST) or code[before].is_word("deriving")
    )


def _symbol(token: Token, *texts: str) -> bool:
    return token.kind is TokenKind.SYMBOL and token.text in texts


class Scopes:
    """The namespaces and sections open at a point of a file, kept as Lean's elaborator keeps them
    (Lean's Elab/BuiltinCommand.lean: `namespace A.B` and `section A.B` open one scope per name
    component, an unnamed `section` one; `end` closes as many as its name has components, one
    without a name). A `mutual` block counts as an unnamed section until its `end`. Read from
    Lean's sources; untested against real Lean."""

    def __init__(self) -> None:
        self._open: list[str | None] = []  # a namespace's component, or None for a section's

    @property
    def namespace(self) -> tuple[str, ...]:
        """The current namespace's components (sections add none)."""
        return tuple(part for part in self._open if part is not None)

    def full_name(self, parts: Sequence[str]) -> str:
        """The full name of a declaration named `parts` here (`_root_.X` is `X`)."""
        if parts and parts[0] == "_root_":
            return ".".join(parts[1:])
        return ".".join((*self.namespace, *parts))

    def follow(
        self, keyword: str, name: Sequence[str] = (), *, on_line: bool = True
    ) -> bool | None:
        """Follow the command `keyword` whose name (if any) is `name`, `on_line` when it stands on
        the keyword's line (a `section`'s or `end`'s name only counts there: an unnamed `end`
        followed by a declaration's name is not `end NAME`). Whether the command took the name;
        None when `keyword` is no scope command."""
        taken = tuple(name) if on_line or keyword == "namespace" else ()
        if keyword == "namespace":
            self._open.extend(taken)
        elif keyword == "section":
            self._open.extend([None] * max(1, len(taken)))
        elif keyword == "mutual":
            self._open.append(None)
            return False
        elif keyword == "end":
            del self._open[max(0, len(self._open) - max(1, len(taken))) :]
        else:
            return None
        return bool(taken)

    def read(self, code: Sequence[Token], index: int) -> int:
        """`follow` the command at `code[index]` (code tokens): how many tokens it spans (its
        keyword and name), 0 when it is no scope command."""
        token = code[index]
        name = code[index + 1] if index + 1 < len(code) else None
        if not _is_name(name):
            name = None
        keyword = token.text if token.is_word("namespace", "section", "mutual", "end") else ""
        on_line = name is not None and name.line == token.line
        took = self.follow(keyword, name.parts if name is not None else (), on_line=on_line)
        return 0 if took is None else 2 if took else 1


# --- the header -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderCommand:
    """One command of a header (`module`, `prelude`, or one import with its modifiers)."""

    kind: Literal["module", "prelude", "import"]
    tokens: tuple[Token, ...]

    @property
    def module(self) -> Token | None:
        """An import's module (its last token); None for `module` and `prelude`."""
        return self.tokens[-1] if self.kind == "import" else None

    @property
    def text(self) -> str:
        """The command as Lean is given it: its words, one space apart (`public import all M`)."""
        return " ".join(token.text for token in self.tokens)


@dataclass(frozen=True)
class Header:
    """A file's header: the commands Lean's header parser reads before the first other command."""

    commands: tuple[HeaderCommand, ...] = ()

    @property
    def modules(self) -> tuple[Token, ...]:
        """The module of each import, in order (`Mathlib.Foo` for `import all Mathlib.Foo`)."""
        return tuple(c.tokens[-1] for c in self.commands if c.kind == "import")

    @property
    def prelude(self) -> bool:
        """`prelude`: the file does not build on `Init`."""
        return any(command.kind == "prelude" for command in self.commands)

    @property
    def size(self) -> int:
        """How many code tokens the header holds: the body's code starts at this index."""
        return sum(len(command.tokens) for command in self.commands)

    @property
    def end(self) -> int:
        """The offset just past the header's last token (0 for an empty header)."""
        return self.commands[-1].tokens[-1].end if self.commands else 0

    @property
    def text(self) -> str:
        """The header as Lean is given it: one command a line (empty without commands)."""
        return "\n".join(command.text for command in self.commands)


def _is(token: Token | None, word: str) -> bool:
    return token is not None and token.is_word(word)


def _is_name(token: Token | None) -> bool:
    """An identifier Lean's `ident` parser accepts (a keyword such as `theorem` is a token)."""
    if token is None or token.kind is not TokenKind.IDENT:
        return False
    return token.quoted or token.text not in RESERVED_WORDS


def _module_offset(peek: Callable[[int], Token | None], keyword: int) -> int | None:
    """Where the module of the `import` at offset `keyword` stands (past an `all`), if anywhere."""
    offset = keyword + 1
    if _is(peek(offset), "all"):  # a token in the header: `import all` is never module `all`
        offset += 1
    module = peek(offset)
    return offset if _is_name(module) and not _is(module, "all") else None


def _import_length(peek: Callable[[int], Token | None]) -> int:
    """How many tokens the import starting at offset 0 spans; 0 if no import starts there."""
    keyword = 0
    for word in ("public", "meta"):  # in this order, and only if `import` follows (atomic)
        if _is(peek(keyword), word):
            keyword += 1
    if not _is(peek(keyword), "import"):
        return 0
    module = _module_offset(peek, keyword)
    return 0 if module is None else module + 1


def imported_module(code: Sequence[Token], index: int) -> Token | None:
    """The module named by the `import` keyword at `code[index]` (code tokens), wherever it stands;
    None when no module name follows it (Lean reports that `import` as a syntax error)."""

    def peek(offset: int) -> Token | None:
        position = index + offset
        return code[position] if position < len(code) else None

    offset = _module_offset(peek, 0)
    return None if offset is None else code[index + offset]


class _Ahead:
    """The code tokens of a token stream, read ahead on demand, up to the first doc comment."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self._source: Iterator[Token] = iter(tokens)
        self._read: list[Token] = []
        self._done = False

    def peek(self, offset: int) -> Token | None:
        while len(self._read) <= offset and not self._done:
            token = next(self._source, None)
            if token is None or token.kind is TokenKind.DOC_COMMENT:
                self._done = True
            elif token.is_code:
                self._read.append(token)
        return self._read[offset] if offset < len(self._read) else None

    def take(self, count: int) -> tuple[Token, ...]:
        taken, self._read = tuple(self._read[:count]), self._read[count:]
        return taken


def read_header(tokens: Iterable[Token]) -> Header:
    """The header at the start of `tokens` (all of a text's tokens, comments included, as
    `tokenize` or `iter_tokens` gives them; read lazily, so an iterator is read only as far as
    the header and a few tokens past it). A malformed import ends the header before it."""
    ahead = _Ahead(tokens)
    commands: list[HeaderCommand] = []
    if _is(ahead.peek(0), "module"):
        commands.append(HeaderCommand("module", ahead.take(1)))
    if _is(ahead.peek(0), "prelude"):
        commands.append(HeaderCommand("prelude", ahead.take(1)))
    while length := _import_length(ahead.peek):
        commands.append(HeaderCommand("import", ahead.take(length)))
    return Header(tuple(commands))
