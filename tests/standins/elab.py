"""Stand-in for `proofgate-elab`, one-shot (docs/audit-design.md, section 9, step 6;
Proofgate/Elab.lean): elaborates one request as the stand-in compiler compiles a file, and exports
its constants as the stand-in exporter exports an .olean.

    elab.py SCENARIO.json --request PATH --reply PATH --export PATH [--option NAME=VALUE]...

The CLI after the scenario is the real elaborator's. The scenario's directory holds
`simulated-imports.json` (the imported constants, as for the stand-in exporter and checker).

What it models, and where it fails as Lean would:
- the request is one JSON object, `{"header": "<import lines>", "body": "<text after them>"}`,
  at most 1 MiB; anything else is the refusal `bad_request`. The text elaborated is the header's
  lines, then the body's;
- `--option NAME=VALUE` pairs are Lean's options, checked as `lean -D` checks them once the
  imports are loaded (compiler.py's `parse_options`): an unknown or ill-typed one is an error
  message of the header, and the body is not elaborated;
- the compiler's directives (`-- standin-compiler: ...`, compiler.py's `act_out`): `error TEXT`
  is an error message of the body at the directive's line, and then no export is written (a real
  elaboration writes none when a message is an error, as `lean -o` writes no .olean); `hang`,
  `crash`, `abort` ... act on this process; `silent` exits 0 having written nothing;
- otherwise the reply has no message, and the export is the stand-in exporter's export of the
  compiler's record under the main module `ProofgateSubmission`, after its private-name rule
  (`check_private`: a constant named `_private.M.0.x` with another `M` is `module_mismatch`).

Reply: `{"header": {"env": 0, "messages": [...]}, "body": {...}}`, the REPL's CommandResponse
shape, `messages` left out when empty, `body` left out when the header has an error; positions
are the REPL's: lines from 1 in the header's text and in the body's. Refusals: one JSON line
`{"error": CODE, "detail": ...}` on stdout, exit 1, neither --reply nor --export left behind.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compiler import (  # type: ignore[import-not-found]  # run as a script
    OptionError,
    ScriptedError,
    act_out,
    compile_record,
    parse_options,
)
from olean_exporter import (  # type: ignore[import-not-found]  # run as a script
    Refusal,
    check_private,
    export_module,
    imported_names,
    option_value,
)

MODULE = "ProofgateSubmission"
MAX_REQUEST_BYTES = 1 << 20
REQUEST_KEYS = {"header", "body"}


def parse(argv: list[str]) -> argparse.Namespace:
    """The real elaborator's command line: `--flag value` only, each of the three once."""
    if any(a.startswith("--") and "=" in a for a in argv):
        raise Refusal("bad_arguments", "give each flag's value as the next argument")
    parser = argparse.ArgumentParser(
        prog="proofgate-elab (stand-in)", add_help=False, allow_abbrev=False
    )
    for flag in ("--request", "--reply", "--export"):
        parser.add_argument(flag, required=True, action="append")
    parser.add_argument("--option", action="append", default=[])
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise Refusal("bad_arguments", f"unknown arguments {unknown}")
    for flag in ("request", "reply", "export"):
        values = getattr(args, flag)
        if len(values) != 1 or not values[0]:
            raise Refusal("bad_arguments", f"--{flag} must be given once, not empty")
        setattr(args, flag, values[0])
    return args


def read_request(path: str) -> tuple[str, str]:
    """The request's header and body, or `bad_request`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Refusal("bad_request", f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_REQUEST_BYTES + 1:
        raise Refusal("bad_request", f"the request has {len(data)} bytes")
    try:
        request = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise Refusal("bad_request", f"the request is not JSON ({exc})") from exc
    if not isinstance(request, dict) or set(request) != REQUEST_KEYS:
        raise Refusal("bad_request", "the request has exactly the keys header and body")
    header, body = request["header"], request["body"]
    if not isinstance(header, str) or not isinstance(body, str):
        raise Refusal("bad_request", "header and body must be strings")
    return header, body


def message(line: int, column: int, text: str) -> dict[str, Any]:
    """One error message in the REPL's shape."""
    return {
        "pos": {"line": line, "column": column},
        "endPos": None,
        "severity": "error",
        "data": text,
    }


def response(*messages: dict[str, Any]) -> dict[str, Any]:
    """A CommandResponse: `env` 0, `messages` when any."""
    return {"env": 0, **({"messages": list(messages)} if messages else {})}


def elaborate(
    scenario: Path, header: str, body: str, pairs: dict[str, str], typed: dict[str, Any]
) -> tuple[dict[str, Any], bytes | None]:
    """The reply, and the export when no message is an error."""
    try:
        options = parse_options([f"{name}={value}" for name, value in pairs.items()])
    except OptionError as exc:  # Lean types the options after the import: the header's error
        return {"header": response(message(1, 0, str(exc)))}, None
    header_lines = len(header.splitlines())
    source = f"{header}\n{body}" if header else body
    try:
        if act_out(source) == "silent":
            raise SystemExit(0)  # exit 0, nothing written: a broken elaborator
    except ScriptedError as exc:
        line = max(exc.line - header_lines, 1)
        return {"header": response(), "body": response(message(line, 0, exc.text))}, None
    compiled = compile_record(source, MODULE, options, None)
    check_private(compiled, MODULE)
    export = export_module(
        compiled, module=MODULE, options=typed, imported=imported_names(scenario)
    )
    return {"header": response(), "body": response()}, export


def main(argv: list[str]) -> int:
    scenario = Path(argv[0])
    written: list[Path] = []
    try:
        args = parse(argv[1:])
        pairs: dict[str, str] = {}
        for pair in args.option:
            name, equals, value = pair.partition("=")
            if not equals or not name:
                raise Refusal("bad_arguments", f"--option {pair!r} is not NAME=VALUE")
            pairs.pop(name, None)  # a later pair of one name replaces an earlier one
            pairs[name] = value
        typed = {name: option_value(value) for name, value in pairs.items()}
        header, body = read_request(args.request)
        reply, export = elaborate(scenario, header, body, pairs, typed)
        written.append(Path(args.reply))
        Path(args.reply).write_text(json.dumps(reply) + "\n", encoding="utf-8")
        if export is not None:
            written.append(Path(args.export))
            Path(args.export).write_bytes(export)
    except Refusal as refusal:
        for path in written:
            path.unlink(missing_ok=True)
        print(json.dumps({"error": refusal.code, "detail": str(refusal)}))
        return 1
    except SystemExit as exit_:
        if exit_.code == 0:
            return 0
        print(json.dumps({"error": "bad_arguments", "detail": " ".join(argv[1:])[:200]}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
