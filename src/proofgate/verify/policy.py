"""The policy pass: refuse, before Lean runs, source that reaches the host or the checker.

It reads tokens (`proofgate.lean.lexer`), so comments and plain strings never trigger it and
`open ... in` hides nothing. It is defence in depth: the sandbox holds whatever slips past it, and
the trusted audit never relies on it. Every rule is listed in `RULES` and in docs/policy.md.
Two profiles: `strict` (the default) and `permissive` (pure `#eval`, `partial`, `native_decide`,
traces allowed; heartbeat limits above the cap lowered instead of refused).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from proofgate.environments.registry import CORE_MODULE_ROOTS
from proofgate.lean.lexer import Token, TokenKind, tokenize
from proofgate.lean.syntax import (
    ATTRIBUTE_KINDS,
    COMMAND_WORDS,
    IMPORT_WORDS,
    MODIFIER_WORDS,
    NOTATION_WORDS,
    imported_module,
)
from proofgate.models import Violation
from proofgate.verify.aesop_rules import meta_code_mention
from proofgate.verify.rules import (
    BIDI,
    CODE_ATTRIBUTE_SUFFIXES,
    CODE_ATTRIBUTES,
    CODE_OPTIONS,
    CONFUSABLE,
    COUNT_HEARTBEATS,
    EVALUATING_WORDS,
    HASH_DENIED,
    HASH_KNOWN,
    HOST_IO_WORDS,
    HOST_ROOTS,
    INVISIBLE,
    IO_WORDS,
    KEYWORDS,
    LINE_SEPARATORS,
    MAX_SCAN,
    MAX_VIOLATIONS,
    META_WORDS,
    NATIVE_CONSTANTS,
    NOTATION_TOKEN_ENDS,
    NOTATION_TOKEN_HAZARDS,
    RAW_TEXT_NAMESPACES,
    RULES,
    Rule,
)

if TYPE_CHECKING:
    from proofgate.config import Settings
    from proofgate.environments.registry import Environment
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

Profile = Literal["strict", "permissive"]


#: Module roots of a standard Mathlib environment, for callers that name no environment.
DEFAULT_IMPORT_ROOTS = frozenset(
    {*CORE_MODULE_ROOTS, "Mathlib", "Batteries", "Aesop", "Qq", "ProofWidgets", "Plausible"}
)


def effective_profile(server: Profile, requested: Profile | None) -> Profile:
    """The profile a request runs under. The server's (PROOFGATE_POLICY) is the default and the
    loosest a request may ask for: a request may tighten it, never loosen it."""
    return "strict" if "strict" in (server, requested) else server


@dataclass(frozen=True)
class PolicyConfig:
    """What the policy allows: the profile, the caps, the importable module roots."""

    profile: Profile = "strict"
    heartbeat_cap: int = 1_000_000
    rec_depth_cap: int = 100_000
    import_roots: frozenset[str] = DEFAULT_IMPORT_ROOTS

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        profile: Profile | None = None,
        environment: Environment | None = None,
    ) -> PolicyConfig:
        """The policy for one request: the settings' cap, the profile it asked for if that is no
        looser than the settings' (`effective_profile`), the environment's roots."""
        roots = environment.module_roots if environment is not None else DEFAULT_IMPORT_ROOTS
        return cls(
            profile=effective_profile(settings.policy, profile),
            heartbeat_cap=settings.heartbeat_cap,
            import_roots=frozenset(roots),
        )

    @property
    def strict(self) -> bool:
        return self.profile == "strict"


@dataclass(frozen=True)
class PolicyResult:
    """The refusals, the notes (permissive rewrites), and the text Lean should compile."""

    violations: tuple[Violation, ...]
    notes: tuple[Violation, ...] = ()
    code: str = ""
    statement: str | None = None  # a locked check's statement, as the audit should compile it

    @property
    def ok(self) -> bool:
        return not self.violations


#: The characters `_control_rule` may refuse (not printable ASCII, not a newline), found by regex
#: rather than by a Python loop over every character.
_SUSPECT_CHARACTER = re.compile("[^\x20-\x7e\n]")


def _control_rule(char: str) -> str | None:
    if char in BIDI:
        return "bidi-control"
    code = ord(char)
    if (code < 0x20 and char not in "\t\n\r") or 0x7F <= code <= 0x9F or char in LINE_SEPARATORS:
        return "control-character"
    return None


class _Scan:
    """One pass over one text's tokens, collecting violations, notes and number rewrites."""

    def __init__(self, text: str, config: PolicyConfig) -> None:
        self.text = text
        self.config = config
        self.code = [token for token in tokenize(text) if token.is_code]
        self.violations: list[Violation] = []
        self.notes: list[Violation] = []
        self.rewrites: list[tuple[int, int, str]] = []
        self._seen: set[tuple[str, int, int]] = set()
        self._mentions_io: bool | None = None
        self._aesop_phase: set[int] = set()  # token starts where `unsafe` is Aesop's rule phase
        # How far each kind of bracketed scan has read: a construct nested inside one already
        # read is not read again (so unclosed brackets cost linear time, not quadratic).
        self._scanned: dict[str, int] = {"attribute": -1, "aesop": -1, "eval": -1}
        self._meta_mention: Token | Literal[False] | None = None  # None: not looked for yet

    def refuse(self, rule: str, token: Token, message: str) -> None:
        self.refuse_at(rule, token.line, token.column, message)

    def refuse_at(self, rule: str, line: int, column: int, message: str) -> None:
        key = (rule, line, column)
        if key not in self._seen and len(self.violations) < MAX_VIOLATIONS:
            self._seen.add(key)
            self.violations.append(Violation(rule=rule, line=line, column=column, message=message))

    def run(self) -> PolicyResult:
        self._characters()
        for index, token in enumerate(self.code):
            if not token.terminated and token.kind is not TokenKind.MALFORMED:
                self.refuse(
                    "malformed-literal",
                    token,
                    "this literal is never closed: Lean reports it at its start and reads on "
                    "from there, so the text after it would be read as commands; close it",
                )
            if token.kind is TokenKind.IDENT:
                self._identifier(index, token)
            elif token.kind is TokenKind.HASH:
                self._hash(index, token)
            elif token.kind is TokenKind.MALFORMED:
                self.refuse(
                    "malformed-literal",
                    token,
                    token.problem
                    or "this literal is malformed, and Lean's error recovery could read the text "
                    "after it as commands: fix the quote or the escape",
                )
            elif token.text == "@[":
                self._attributes(index + 1)
            elif token.text == "(" and (kind := self._next(index + 1)) and kind.is_word(*_CLAUSES):
                # `(add ...)` is an Aesop clause wherever it stands: after `aesop`, after another
                # tactic that takes Aesop's clauses (`arith_mult`, `restrict_tac`), after options
                self._aesop_clauses(index - 1)
            elif token.kind is TokenKind.SYMBOL and token.text in INVISIBLE:
                self.refuse(
                    "invisible-character",
                    token,
                    f"invisible or non-ASCII space "
                    f"U+{ord(token.text):04X} in code: use a plain space or delete it",
                )
        self.violations.sort(key=lambda v: (v.line, v.column))
        pieces, done = [], 0
        for start, end, replacement in sorted(self.rewrites):
            pieces += [self.text[done:start], replacement]
            done = end
        text = "".join([*pieces, self.text[done:]])
        return PolicyResult(tuple(self.violations), tuple(self.notes), text)

    def _characters(self) -> None:
        """Refuse control characters. The line and its start advance with the scan: each stretch
        of text between two suspect characters is read once, so the pass is linear even on one
        very long line (a search back to the text's start for every non-ASCII character was not)."""
        text, line, line_start, scanned = self.text, 1, 0, 0
        for match in _SUSPECT_CHARACTER.finditer(text):
            offset = match.start()
            newlines = text.count("\n", scanned, offset)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", scanned, offset) + 1
            scanned = offset
            char = match.group()
            if rule := _control_rule(char):
                what = "bidirectional control" if rule == "bidi-control" else "control"
                self.refuse_at(
                    rule,
                    line,
                    offset - line_start,
                    f"{what} character U+{ord(char):04X}: "
                    "it can make the text read differently from what Lean parses; delete it",
                )

    def _next(self, index: int) -> Token | None:
        return self.code[index] if 0 <= index < len(self.code) else None

    def _window(self, index: int) -> Iterator[Token]:
        """At most MAX_SCAN tokens from `index` (a bracketed construct longer than that is refused
        by its caller, so a file of unclosed brackets costs linear time, not quadratic)."""
        for position in range(index, min(len(self.code), index + MAX_SCAN)):
            yield self.code[position]

    def _at_command_start(self, index: int) -> bool:
        """First in the file, after `in`, or at column 0 of a line after something that ends a
        term (not after `:`, `=`, `(`, ...: there a `#` word is notation such as `#s`)."""
        previous, token = self._next(index - 1), self.code[index]
        if previous is None or previous.is_word("in"):
            return True
        if previous.end_line == token.line or token.column != 0:
            return False
        return previous.kind is not TokenKind.SYMBOL or previous.text in (")", "]", "}", "⟩")

    def _glued(self, index: int, symbol: str) -> bool:
        following = self._next(index + 1)
        if following is None:
            return False
        return following.text == symbol and following.start == self.code[index].end

    # --- identifiers and keywords ------------------------------------------------------------
    def _identifier(self, index: int, token: Token) -> None:
        strict = self.config.strict
        if strict:
            self._confusable(token)
            self._native_name(index, token)
        self._named_capability(index, token)
        if token.quoted:  # «unsafe» is a name, never the keyword
            return
        word = token.text
        keyword = KEYWORDS.get(word)
        if keyword is not None and token.start not in self._aesop_phase:
            rule, strict_only, message = keyword
            if strict or not strict_only:
                self.refuse(rule, token, message)
        elif word.startswith(("register_", "declare_")):
            self.refuse(
                "declare-command",
                token,
                f"`{word}` registers an option, attribute or "
                "rule set (code run at load time); remove it",
            )
        elif word == "import":
            self._import(index)
        elif word in COUNT_HEARTBEATS:
            self._count_heartbeats(token, word)
        elif word == "eval" and self._glued(index, "%"):
            self._eval(index, token, what="eval%")
        elif word == "set_option":
            self._set_option(index)
        elif word == "attribute" and self._followed_by(index, "["):
            self._attributes(index + 2)
        elif word.startswith("aesop"):
            self._aesop_clauses(index)
        elif word == "add_aesop_rules":
            self._aesop_registration(token)
        elif word in NOTATION_WORDS:
            self._notation_tokens(index)
        elif strict and word in CODE_OPTIONS and self._followed_by(index, ":="):
            self.refuse(
                "meta-code",
                token,
                f"the tactic option `{word}` holds meta code that the tactic runs; the strict "
                "policy refuses it (leave the option at its default)",
            )
        elif word in EVALUATING_WORDS:
            self._eval(index, token, what=word)
        elif word == "decide" and strict and self._unnamed_config(index):
            self.refuse(
                "native-code",
                token,
                "a `decide` configuration not written as `{ field := value }` can set `native` "
                "without naming it; name its fields",
            )

    def _notation_tokens(self, index: int) -> None:
        """The strings of a notation command, up to the next command (`notation3`'s items hold
        `=>`, so its first `=>` is not its end): each may be a token of the file's own."""
        for token in self._window(index + 1):
            if token.kind is TokenKind.HASH or token.is_word(*_NOTATION_ENDS):
                return
            if token.kind is TokenKind.STRING:
                atom = token.text[1:-1] if token.terminated else token.text[1:]
                hazard = next((h for h in NOTATION_TOKEN_HAZARDS if h in atom), None)
                if hazard is None and atom.strip().endswith(NOTATION_TOKEN_ENDS):
                    hazard = atom.strip()[-1]
                if token.interpolated:  # `"{x}--"` read as interpolated pieces: still a token
                    hazard = "{"
                if hazard is not None:
                    self.refuse(
                        "notation-token",
                        token,
                        f"the notation token {token.text} holds `{hazard}`: it would change where "
                        "Lean's comments, strings or names start; choose a token without it",
                    )
        if index + 1 + MAX_SCAN < len(self.code):
            self.refuse(
                "notation-token",
                self.code[index],
                "notation too long to inspect; split it",
            )

    def _followed_by(self, index: int, symbol: str) -> bool:
        following = self._next(index + 1)
        return following is not None and following.text == symbol

    def _count_heartbeats(self, token: Token, word: str) -> None:
        """Mathlib's `count_heartbeats in`, with or without `#`."""
        self.refuse(
            "heartbeats",
            token,
            f"`{word} in` runs its command with `maxHeartbeats 0` (no limit); remove it",
        )

    def _unnamed_config(self, index: int) -> bool:
        """`decide (config := X)` where X is not a `{ ... }` of named fields (`{ c with }` takes
        its fields from elsewhere)."""
        after = self.code[index + 1 : index + 7]
        if len(after) < 4 or after[0].text != "(" or not after[1].is_word("config"):
            return False
        if after[2].text != ":=":
            return False
        return after[3].text != "{" or (len(after) == 6 and after[5].is_word("with"))

    def _named_capability(self, index: int, token: Token) -> None:
        """What a name reaches however it is written (`«unsafeCast»` is `unsafeCast`)."""
        last = token.parts[-1] if token.parts else token.text
        if _is_unsafe_function(last):
            self.refuse(
                "unsafe",
                token,
                f"`{token.name}` is an unsafe function (an unchecked cast, a pointer, IO from pure "
                "code); a proof needs none",
            )
        io = next((p for p in token.parts if p in HOST_IO_WORDS), None)
        if token.parts and token.parts[0] in HOST_ROOTS:
            io = token.parts[0]
        if self.config.strict and io:
            self.refuse(
                "host-io",
                token,
                f"`{token.name}` names `{io}`: a proof needs no IO, and the strict policy refuses "
                "code that reaches the host's files or processes",
            )
        # an imported module or an option (`trace.Meta.synthInstance`) is a name, not code
        imported = (previous := self._next(index - 1)) is not None and previous.is_word(
            *IMPORT_WORDS, "set_option"
        )
        meta = next((p for p in token.parts if p in META_WORDS), None)
        if self.config.strict and meta and not imported:
            self.refuse(
                "meta-code",
                token,
                f"`{token.name}` names `{meta}`, Lean's meta level: a proof needs none, and the "
                "strict policy refuses code that could run inside the checker",
            )
        if raw := next((p for p in token.parts if p in RAW_TEXT_NAMESPACES), None):
            self.refuse(
                "raw-text-syntax",
                token,
                f"`{token.name}` names `{raw}`, whose syntax reads raw text this pass cannot tell "
                "from code; remove it",
            )

    def _native_name(self, index: int, token: Token) -> None:
        """`native` as an option (`decide +native`), or a constant behind compiled-code evaluation,
        however its name is quoted (`Lean.«ofReduceBool»`, `+«native»`)."""
        if token.parts == ("native",) and self._native_option(index):
            self.refuse(
                "native-code",
                token,
                "`native` evaluation trusts compiled code; use `decide` without it",
            )
        elif token.parts and token.parts[-1] in NATIVE_CONSTANTS:
            self.refuse(
                "native-code",
                token,
                f"`{token.name}` trusts compiled code; the strict "
                "policy refuses it (the audit would reject its axiom anyway)",
            )

    def _confusable(self, token: Token) -> None:
        for part in token.parts:
            odd = next((ch for ch in part if ch in CONFUSABLE), None)
            if odd is not None and any(ch.isascii() and ch.isalpha() for ch in part):
                self.refuse(
                    "confusable-identifier",
                    token,
                    f"identifier `{part}` mixes ASCII "
                    f"letters with U+{ord(odd):04X}, which looks like one; use one script",
                )
                return

    def _native_option(self, index: int) -> bool:
        """`decide +native` or `(config := { native := true })`."""
        before = self._next(index - 1)
        return (before is not None and before.text == "+") or self._followed_by(index, ":=")

    def _import(self, index: int) -> None:
        """The module an `import` names (the header's reading, `import all M` imports `M`), at the
        head of the file or anywhere else (where Lean refuses the command: checked all the same)."""
        module = imported_module(self.code, index)
        if module is None:
            self.refuse(
                "import-not-allowed",
                self.code[index],
                "this `import` names no module (Lean reads `public? meta? import all? Module`): "
                "write the module's name",
            )
        elif module.parts[0] not in self.config.import_roots:
            allowed = ", ".join(sorted(self.config.import_roots))
            self.refuse(
                "import-not-allowed",
                module,
                f"module `{module.name}` is outside this environment; import only from: {allowed}",
            )

    # --- set_option ---------------------------------------------------------------------------
    def _set_option(self, index: int) -> None:
        name_token = self._next(index + 1)
        if name_token is None or name_token.kind is not TokenKind.IDENT:
            return
        name, value, config = name_token.name, self._next(index + 2), self.config
        if name == "debug" or name.startswith("debug."):
            self.refuse(
                "debug-option", name_token, f"`{name}` changes how Lean checks proofs; remove it"
            )
        elif name.startswith("trace.") and (
            config.strict or name.startswith("trace.profiler.output")
        ):
            self.refuse(
                "trace-option",
                name_token,
                f"`{name}` is refused by the {config.profile} policy; remove the trace option",
            )
        elif name in ("maxHeartbeats", "synthInstance.maxHeartbeats"):
            cap = config.heartbeat_cap
            self._limit(name_token, value, cap=cap, rule="heartbeats", zero_ok=False)
        elif name == "maxRecDepth":
            cap = config.rec_depth_cap
            self._limit(name_token, value, cap=cap, rule="rec-depth", zero_ok=True)

    def _limit(
        self, name: Token, value: Token | None, *, cap: int, rule: str, zero_ok: bool
    ) -> None:
        number = _parse_number(value.text) if value and value.kind is TokenKind.NUMBER else None
        if value is None or number is None:
            self.refuse(rule, name, f"`{name.name}` must be set to a plain number, at most {cap}")
        elif number == 0 and not zero_ok:
            self.refuse(
                rule, value, f"`{name.name} 0` removes Lean's limit; use a number up to {cap}"
            )
        elif number > cap:
            replacement = _fit(cap, len(value.text))
            if self.config.strict or replacement is None:
                self.refuse(
                    rule,
                    value,
                    f"`{name.name} {value.text}` is above this service's cap "
                    f"of {cap}; use at most {cap}",
                )
                return
            self.rewrites.append((value.start, value.end, replacement))
            message = f"`{name.name} {value.text}` lowered to the cap, {cap}"
            self.notes.append(
                Violation(rule=rule, line=value.line, column=value.column, message=message)
            )

    # --- attributes ---------------------------------------------------------------------------
    def _attributes(self, index: int) -> None:
        """An attribute list, from just after `@[` (or `attribute [`) to its `]`."""
        if index <= self._scanned["attribute"]:
            return  # nested in a list already read: its entries were read with it
        depth, entry_start, entry = 0, True, ""
        # Depths whose `,` starts an attribute: the list's own, and each `(attr := a, b)` inside
        # it (Mathlib's `to_additive`, `reassoc`, ... apply the attributes they are given).
        lists = {0}
        previous: Token | None = None
        for position, token in enumerate(self._window(index), start=index):
            self._scanned["attribute"] = position
            if token.kind is TokenKind.SYMBOL:
                if token.text in ("[", "(", "{", "@[", "#[", "%["):
                    depth += 1
                    entry_start = entry_start or token.text == "@["
                elif token.text in ("]", ")", "}"):
                    if depth == 0:
                        return
                    lists.discard(depth)
                    depth -= 1
                elif token.text == "," and depth in lists:
                    entry_start = True
                elif token.text == ":=" and previous is not None and previous.is_word("attr"):
                    lists.add(depth)
                    entry_start = True
                elif token.text == "-" and entry_start:  # `attribute [-aesop] t`: an erasure
                    entry_start, entry = False, "-"
            elif token.kind is TokenKind.IDENT and entry_start:
                if token.is_word("local", "scoped"):
                    continue
                entry_start, entry = False, token.name
                if entry == "aesop":
                    self._aesop_registration(token)
                if _is_code_attribute(entry):
                    self.refuse(
                        "code-attribute",
                        token,
                        f"attribute `{entry}` registers or replaces code; remove it",
                    )
            elif entry == "aesop" and token.is_word("tactic"):
                self.refuse(
                    "code-attribute",
                    token,
                    "an `aesop` rule of kind `tactic` runs the "
                    "file's own meta code; use lemma rules",
                )
            elif entry == "aesop" and token.is_word("unsafe"):
                self._aesop_phase.add(token.start)
            previous = token
        if index < len(self.code):
            self.refuse(
                "code-attribute",
                self.code[index],
                "attribute list too long (or never closed) to inspect; close it with `]`",
            )

    def _aesop_registration(self, token: Token) -> None:
        """An Aesop rule being added: refused in a file with meta-level code of its own, which a
        rule can run without the word `tactic` (see `proofgate.verify.aesop_rules`)."""
        if self._meta_mention is None:
            self._meta_mention = meta_code_mention(self.code) or False
        if self._meta_mention:
            mention = self._meta_mention
            self.refuse(
                "aesop-tactic-rule",
                token,
                f"this file has meta-level code (`{mention.name}`, line {mention.line}), and an "
                "aesop rule can run it (Aesop tries a rule as a `tactic` rule first when it names "
                "no builder): register aesop rules only in a file without meta-level code",
            )

    def _aesop_clauses(self, index: int) -> None:
        """`aesop (add safe tactic f)`: refuse tactic rules among the clauses."""
        if index <= self._scanned["aesop"]:
            return
        position = index + 1
        while (opening := self._next(position)) is not None and opening.text == "(":
            depth, position, limit = 0, position + 1, position + MAX_SCAN
            if (kind := self._next(position)) is not None and kind.is_word("add"):
                self._aesop_registration(kind)
            while (token := self._next(position)) is not None:
                if position >= limit:
                    self.refuse(
                        "aesop-tactic-rule",
                        opening,
                        "aesop clause too long (or never closed) to inspect",
                    )
                    return
                position += 1
                self._scanned["aesop"] = position
                if token.text == "(":
                    depth += 1
                elif token.text == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif token.is_word("tactic"):
                    self.refuse(
                        "aesop-tactic-rule",
                        token,
                        "an aesop `tactic` rule runs the "
                        "file's own meta code; use lemma rules (`add safe apply foo`)",
                    )
                elif token.is_word("unsafe"):  # Aesop's `unsafe` rule phase, not the keyword
                    self._aesop_phase.add(token.start)

    # --- `#` commands -------------------------------------------------------------------------
    def _hash(self, index: int, token: Token) -> None:
        word = token.text
        known = next((k for k in HASH_KNOWN if word.startswith(k)), None)
        if known is None:
            if self.config.strict and self._at_command_start(index):
                self.refuse(
                    "hash-command",
                    token,
                    f"`{word}` is not an allowed `#` command "
                    "(allowed: #check, #print, #reduce, #synth, ...)",
                )
            return
        rule = HASH_DENIED.get(known)
        if rule == "eval" and word != known:
            self.refuse(
                "eval",
                token,
                f"`{word}` is read by Lean as `{known} "
                f"{word[len(known) :]}`, and `{known}` is refused",
            )
        elif rule == "eval":
            self._eval(index, token, what=known)
        elif rule == "exit":
            self.refuse(
                "exit",
                token,
                "`#exit` is not allowed: remove it (everything after it "
                "would be skipped without a word)",
            )
        elif rule == "heartbeats":
            self._count_heartbeats(token, known)
        elif rule == "network":
            self.refuse("network", token, f"`{known}` calls an outside service; search offline")
        elif rule is not None:
            self.refuse("hash-command", token, f"`{known}` runs code or reads the host; remove it")

    def _eval(self, index: int, token: Token, *, what: str) -> None:
        if self.config.strict:
            self.refuse(
                "eval",
                token,
                f"`{what}` runs code in the checker; the strict policy "
                "refuses it whatever it does (use `#reduce`, or "
                "`example : ... := by decide`)",
            )
            return
        start = index + (2 if what == "eval%" else 1)
        if start <= self._scanned["eval"]:  # inside a term already judged: the same verdict
            return
        body = self._term_after(start)
        self._scanned["eval"] = start + len(body)
        io_like = next((t for t in body if _io_like(t)), None)
        if io_like is not None:
            self.refuse(
                "eval",
                io_like,
                f"`{what}` here looks like IO or meta code "
                f"(`{io_like.text}`); only pure evaluation is allowed",
            )
        elif self._file_mentions_io():
            self.refuse(
                "eval",
                token,
                f"`{what}` is refused because this file mentions IO or meta "
                "code; only pure evaluation, in a file without any, is allowed",
            )

    def _term_after(self, index: int) -> list[Token]:
        body: list[Token] = []
        depth = 0
        for token in self._window(index):
            if token.kind is TokenKind.SYMBOL and token.text in ("(", "[", "{", "⟨"):
                depth += 1
            elif token.kind is TokenKind.SYMBOL and token.text in (")", "]", "}", "⟩"):
                depth -= 1
            elif depth <= 0 and (
                token.kind is TokenKind.HASH or token.text == "@[" or token.is_word(*COMMAND_WORDS)
            ):
                break
            body.append(token)
        else:
            if index + MAX_SCAN < len(self.code):  # too long to inspect: treat it as not pure
                return [*body, Token(TokenKind.IDENT, "IO", 0, 0, 1, 0, 1, 0, parts=("IO",))]
        return body

    def _file_mentions_io(self) -> bool:
        if self._mentions_io is None:
            self._mentions_io = any(_io_like(token) for token in self.code)
        return self._mentions_io


#: Words that start the command after a notation (`scoped`, `local` also stand inside its items).
_NOTATION_ENDS = COMMAND_WORDS - ATTRIBUTE_KINDS - MODIFIER_WORDS
#: The words that open an Aesop clause.
_CLAUSES = ("add", "erase", "rule_sets")


def _io_like(token: Token) -> bool:
    if token.kind is TokenKind.SYMBOL:
        return token.text in ("←", "<-")
    if token.kind is not TokenKind.IDENT:
        return False
    return any(part in IO_WORDS or part.startswith(("unsafe", "Unsafe")) for part in token.parts)


def _is_unsafe_function(name: str) -> bool:
    """Lean's unsafe functions by their naming: `unsafeCast`, `unsafeBaseIO`, `ptrAddrUnsafe`
    (not `unsafe_lemma` or `«unsafe name»`, which are the submitter's names)."""
    rest = name.removeprefix("unsafe")
    return (rest != name and rest[:1].isupper()) or (name.endswith("Unsafe") and name != "Unsafe")


def _is_code_attribute(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last in CODE_ATTRIBUTES or last.startswith("builtin_"):
        return True
    return last.endswith(CODE_ATTRIBUTE_SUFFIXES)


def _parse_number(text: str) -> int | None:
    digits = text.replace("_", "")
    try:
        return int(digits, 0) if digits[:2].lower() in ("0x", "0b", "0o") else int(digits, 10)
    except ValueError:
        return None


def _fit(value: int, width: int) -> str | None:
    """`value` in at most `width` characters, padded with spaces to exactly `width` so every later
    column on the line stays put; None if it does not fit."""
    for spelling in (str(value), hex(value)):
        if len(spelling) <= width:
            return spelling + " " * (width - len(spelling))
    return None


def check_source(text: str, config: PolicyConfig | None = None) -> PolicyResult:
    """Run every rule over one Lean text. Never raises on any input."""
    return _Scan(text, config or PolicyConfig()).run()


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
