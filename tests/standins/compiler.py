"""Stand-in for `lake env lean --json -o OUT SRC`: writes a fake .olean, or fails as scripted.

A line `-- standin-compiler: ACTION [TEXT]` in the source picks what happens:
`error TEXT` (a `--json` error message, exit 1), `hang` (sleeps), `crash` (killed by SIGKILL
without output), `silent` (exit 0 but no .olean). Anything else compiles: the .olean holds a marker
and the source's hash, which the stand-in checker verifies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

OLEAN_MARKER = b"standin-olean\n"
DIRECTIVE = "-- standin-compiler:"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lean (stand-in)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-o", dest="olean", required=True)
    parser.add_argument("source")
    args = parser.parse_args(argv)
    source = Path(args.source).read_text(encoding="utf-8")
    for line in source.splitlines():
        if line.startswith(DIRECTIVE):
            action, _, text = line[len(DIRECTIVE) :].strip().partition(" ")
            if action == "error":
                message = {
                    "severity": "error",
                    "pos": {"line": 3, "column": 2},
                    "endPos": None,
                    "data": text,
                    "fileName": args.source,
                    "caption": "",
                }
                print(json.dumps(message) if args.json else f"{args.source}:3:2: error: {text}")
                return 1
            if action == "hang":
                time.sleep(3600)
            if action == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            if action == "silent":
                return 0
    digest = hashlib.sha256(source.encode()).hexdigest().encode()
    Path(args.olean).write_bytes(OLEAN_MARKER + digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
