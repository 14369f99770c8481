"""The REPL's recorded proof-state sessions as a session worker sends them (issue 19, item 5).

A session worker elaborates its header first, the empty one too, and runs the statement on that
header's env; the REPL's own recordings run a statement with no imports on no env. The copy made
here differs from the recording only there: `{"cmd": ""}` answered `{"env": 0}` comes first, the
recorded statement carries `"env": 0`, and its reply's env moves up by one. The tactics and their
replies are as recorded (an empty command makes no proof state, so proof-state ids do not move).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["on_the_header_env"]


def _blocks(text: str) -> list[dict[str, object]]:
    return [json.loads(block) for block in text.split("\n\n") if block.strip()]


def _write(path: Path, values: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(v, ensure_ascii=False) + "\n\n" for v in values), "utf-8")


def on_the_header_env(transcript: Path, into: Path) -> Path:
    """Write the session-worker copy of `transcript` (NAME.in and NAME.expected.out) under `into`."""
    name = transcript.name.removesuffix(".in")
    commands = _blocks(transcript.read_text("utf-8"))
    replies = _blocks(transcript.with_name(f"{name}.expected.out").read_text("utf-8"))
    assert "env" not in commands[0] and replies[0]["env"] == 0, "not a statement on no env"
    into.mkdir(parents=True, exist_ok=True)
    derived = into / transcript.name
    _write(derived, [{"cmd": ""}, {**commands[0], "env": 0}, *commands[1:]])
    _write(
        derived.with_name(f"{name}.expected.out"),
        [{"env": 0}, {**replies[0], "env": 1}, *replies[1:]],
    )
    return derived
