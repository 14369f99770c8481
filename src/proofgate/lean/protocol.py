"""What each REPL version speaks: the protocol differences between leanprover-community/repl tags
that the driver must know, read from the tags' sources (docs/repl-versions.md lists them with the
commits). The variant is chosen by the REPL version an environment pins (`Environment.repl_version`).

- `flushes`: the reply's closing blank line is flushed (commit 4fc1e6d, first in tag v4.10.0).
  Before it the REPL writes through Lean's buffered stdout and never flushes: on a pipe a reply
  stays in the buffer until 4 KiB more output or the process's exit pushes it out. The launcher
  then runs the REPL under `stdbuf -oL` (stdout line-buffered: each line is written at its newline).
- `used_constants`: `usedConstants` on each tactic of `allTactics` (65f1337, first in v4.14.0).
- `proof_status` and `root_goals`: `proofStatus` in a proof step's reply and the `rootGoals` command
  option (4a7e8af, first in v4.19.0); an older REPL ignores `rootGoals` without a word (derived
  `FromJson` skips unknown fields), so the driver refuses to send it there.
- `file_env`: `env` in file mode (`{"path", "env"}`, cbf2ca9, first in v4.22.0).
- `ascii_trim`: message data trimmed with `trimAscii` (6229f06, first in v4.27.0), before with
  `String.trim`; the driver does not depend on it.
Untested against real Lean: each variant is exercised with the stand-in REPL's `--protocol`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CURRENT", "ReplProtocol", "protocol_for"]

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(-rc\d+)?")


@dataclass(frozen=True)
class ReplProtocol:
    """The protocol of one REPL version; `CURRENT` is the pinned v4.32.0's."""

    version: str
    flushes: bool = True
    used_constants: bool = True
    proof_status: bool = True
    root_goals: bool = True
    file_env: bool = True
    ascii_trim: bool = True


#: (first Lean minor version with the feature, field), from the tags (see the module docstring).
_INTRODUCED = (
    (10, "flushes"),
    (14, "used_constants"),
    (19, "proof_status"),
    (19, "root_goals"),
    (22, "file_env"),
    (27, "ascii_trim"),
)

CURRENT = ReplProtocol("v4.32.0")


def protocol_for(version: str | None) -> ReplProtocol:
    """The protocol of REPL `version` (a tag such as `v4.9.0` or `v4.15.0-rc1`); the current one
    when the version is unknown or not a v4 tag (a commit, a branch). A release candidate of the
    minor version that brought a feature is taken to lack it (v4.10.0-rc1 lacks the flush)."""
    match = _VERSION.fullmatch(version or "")
    if match is None or int(match.group(1)) != 4:
        return CURRENT
    minor = int(match.group(2))
    candidate = match.group(4) is not None
    features = {
        name: minor > first or (minor == first and not candidate) for first, name in _INTRODUCED
    }
    return ReplProtocol(version=version or "", **features)
