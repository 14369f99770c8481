"""The stand-in zygote's elaboration mode (`zygote.py --scenario FILE`; docs/audit-design.md,
section 9, step 8). Never a verification path: no Lean runs.

The zygote elaborates its header once (the simulated REPL's header command: its import sleep, its
`Standin.Missing` modules, then the options typed as `lean -D` types them), and each child
elaborates one body on that state, so a child's reply is what the pooled REPL would answer for the
same text (messages, sorries: `proofgate.bench.simulated_repl`), and its export is what the
stand-in one-shot elaborator writes for it (tests/standins/elab.py), only when no message is an
error. The stand-in compiler's directives (`-- standin-compiler: error ...`, `hang`, `crash`)
act in the child as they act in the one-shot elaborator.

A child's reply (its fd 4) is one JSON object: `{"response": CommandResponse}`, plus
`"refusal": {"error", "detail"}` when the export was refused (a constant private to another
module), the codes of `proofgate-elab`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "src" / "proofgate" / "bench"
if str(BENCH) not in sys.path:  # the simulated REPL runs as a file, without the package
    sys.path.insert(0, str(BENCH))

from compiler import OptionError, parse_options  # type: ignore[import-not-found]  # noqa: E402
from elab import elaborate, message, response  # type: ignore[import-not-found]  # noqa: E402
from olean_exporter import Refusal, option_value  # type: ignore[import-not-found]  # noqa: E402
from simulated_repl import SimulatedRepl  # type: ignore[import-not-found]  # noqa: E402


class _Capturing(SimulatedRepl):  # type: ignore[misc]  # a script's import, untyped
    """The simulated REPL, its replies kept instead of printed."""

    reply: dict[str, Any] | None = None

    def _reply(self, value: dict[str, Any], **_: object) -> None:
        self.reply = value


class Elaborator:
    """One zygote's state: its header imported once, then one body per child."""

    def __init__(self, scenario: Path, options: list[str], import_seconds: float) -> None:
        self.scenario = scenario
        self.pairs: dict[str, str] = {}
        for pair in options:
            name, _, value = pair.partition("=")
            self.pairs.pop(name, None)  # a later pair of one name replaces an earlier one
            self.pairs[name] = value
        self.typed = {name: option_value(value) for name, value in self.pairs.items()}
        self.repl = _Capturing(import_seconds)
        self.header = ""

    def import_header(self, header: str) -> dict[str, Any]:
        """The header's reply (a CommandResponse): its import, then the options."""
        self.header = header
        self.repl._command({"cmd": header})
        reply = dict(self.repl.reply or {})
        try:
            parse_options([f"{name}={value}" for name, value in self.pairs.items()])
        except OptionError as exc:  # typed after the import: an error of the header
            reply["messages"] = [*reply.get("messages", []), message(1, 0, str(exc))]
        return reply

    def body(self, body: str) -> tuple[dict[str, Any], bytes | None]:
        """A child's reply for `body` on the header's env, and its export when it is clean."""
        self.repl._command({"cmd": body, "env": 0})
        got = dict(self.repl.reply or {})
        if any(m.get("severity") == "error" for m in got.get("messages", [])):
            return {"response": got}, None
        try:
            reply, export = elaborate(self.scenario, self.header, body, self.pairs, self.typed)
        except Refusal as refusal:
            return {
                "response": got,
                "refusal": {"error": refusal.code, "detail": str(refusal)},
            }, None
        found = reply.get("body", response()).get("messages", [])
        if found:  # the compiler's directive errors, among the REPL's messages
            got["messages"] = sorted(
                [*got.get("messages", []), *found],
                key=lambda m: (m["pos"]["line"], m["pos"]["column"]),
            )
        return {"response": got}, export
