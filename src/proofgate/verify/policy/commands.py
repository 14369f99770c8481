"""The rules on commands: imports, options and their limits, `#` commands, `#eval`, notations."""

from __future__ import annotations

from proofgate.lean.lexer import Token, TokenKind
from proofgate.lean.syntax import ATTRIBUTE_KINDS, COMMAND_WORDS, MODIFIER_WORDS, imported_module
from proofgate.verify.policy.base import ScanBase
from proofgate.verify.rules import (
    HASH_DENIED,
    HASH_KNOWN,
    IO_WORDS,
    MAX_SCAN,
    NOTATION_TOKEN_ENDS,
    NOTATION_TOKEN_HAZARDS,
    VERSO_OPTIONS,
)

__all__ = ["CommandRules"]


class CommandRules(ScanBase):
    """What a command may do: which modules it imports, which options it sets, what it runs."""

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
        elif name.startswith(VERSO_OPTIONS):
            self.refuse(
                "verso-docs",
                name_token,
                f"`{name}` makes doc comments Verso, whose code blocks Lean elaborates: this pass "
                "reads them as comments; remove it",
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

    def _count_heartbeats(self, token: Token, word: str) -> None:
        """Mathlib's `count_heartbeats in`, with or without `#`."""
        self.refuse(
            "heartbeats",
            token,
            f"`{word} in` runs its command with `maxHeartbeats 0` (no limit); remove it",
        )

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

    # --- notations ----------------------------------------------------------------------------
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


#: Words that start the command after a notation (`scoped`, `local` also stand inside its items).
_NOTATION_ENDS = COMMAND_WORDS - ATTRIBUTE_KINDS - MODIFIER_WORDS


def _io_like(token: Token) -> bool:
    if token.kind is TokenKind.SYMBOL:
        return token.text in ("←", "<-")
    if token.kind is not TokenKind.IDENT:
        return False
    return any(part in IO_WORDS or part.startswith(("unsafe", "Unsafe")) for part in token.parts)
