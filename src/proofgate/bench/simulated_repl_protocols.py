"""The simulated REPL's protocol variants (`--protocol VERSION`): how leanprover-community/repl
tags older than the pinned v4.32.0 answer, so the driver can be tested against each.

Read from the tags' sources (docs/repl-versions.md; the driver's own table is
`proofgate.lean.protocol`, kept apart on purpose so that a wrong row there fails a test here):
- v4.9.0 prints each reply and its closing blank line with `IO.println` and never flushes
  (`REPL/Main.lean`; commit 4fc1e6d added the flush, first in v4.10.0). Lean's stdout is C stdio,
  fully buffered on a pipe: the bytes leave in buffer-sized blocks (4 KiB here, glibc's size for a
  pipe) or at a normal exit, never at a reply's end. `stdbuf -oL`/`-o0` change that through the
  library they preload, which reads `_STDBUF_O`; this stand-in reads the same variable (modelled,
  not recorded). Its tactic replies lack `usedConstants` and `proofStatus`.
- v4.15.0 flushes and has `usedConstants`, not `proofStatus` (nor `rootGoals`, `env` in file mode,
  which the stand-in never acts on anyway).
- v4.26.0 is v4.32.0 but for message trimming (`String.trim`, not `trimAscii`), which the stand-in's
  messages never exercise.
A standalone file (no proofgate import): the stand-in runs as a script.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

__all__ = ["VARIANTS", "UnflushedStdout", "shape_reply"]

#: version -> (flushes, usedConstants on tactics, proofStatus in proof-step replies)
VARIANTS: dict[str, tuple[bool, bool, bool]] = {
    "v4.9.0": (False, False, False),
    "v4.15.0": (True, True, False),
    "v4.26.0": (True, True, True),
    "v4.32.0": (True, True, True),
}
#: glibc's stdio buffer for a pipe (st_blksize): what an unflushed stdout writes at a time.
STDIO_BUFFER_BYTES = 4096


def flushes(version: str) -> bool:
    return VARIANTS[version][0]


def shape_reply(value: dict[str, Any], version: str) -> dict[str, Any]:
    """`value` (a v4.32.0 reply) without the fields `version` does not print."""
    _, used_constants, proof_status = VARIANTS[version]
    shaped = dict(value)
    if not proof_status:
        shaped.pop("proofStatus", None)
    if not used_constants and isinstance(shaped.get("tactics"), list):
        shaped["tactics"] = [
            {k: v for k, v in tactic.items() if k != "usedConstants"}
            if isinstance(tactic, dict)
            else tactic
            for tactic in shaped["tactics"]
        ]
    return shaped


class UnflushedStdout:
    """stdout as a C program that never flushes it has it on a pipe: written a full buffer at a
    time and at a normal exit (not at `os._exit` or a signal); line by line under `stdbuf -oL`,
    at once under `stdbuf -o0` (`_STDBUF_O`)."""

    def __init__(self) -> None:
        self._out = sys.stdout.buffer
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._mode = os.environ.get("_STDBUF_O", "")
        atexit.register(self.flush)

    def write(self, data: bytes) -> None:
        with self._lock:
            self._pending += data
            if self._mode == "0":
                cut = len(self._pending)
            elif self._mode == "L":
                cut = self._pending.rfind(b"\n") + 1
            else:
                cut = len(self._pending) - len(self._pending) % STDIO_BUFFER_BYTES
            if cut:
                self._out.write(bytes(self._pending[:cut]))
                self._out.flush()
                del self._pending[:cut]

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._out.write(bytes(self._pending))
                self._out.flush()
                self._pending.clear()
