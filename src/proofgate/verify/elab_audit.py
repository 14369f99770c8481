"""The audit's one-shot elaborator (`PROOFGATE_AUDIT_COMPILER=elab`; docs/audit-design.md, step 6).

With it, the submission and the locked statement are each elaborated by one jailed
`proofgate-elab` process (Proofgate/Elab.lean): it imports the header, elaborates the body under
the main module `ProofgateSubmission`, and writes the REPL-shaped reply and the export of the new
constants, which the warm checkers judge (`warm_audit`). It takes the place of `lean -o` plus
`proofgate-export`: one process where there were two (three with the shell joining them).

Its files, in the run's writable directory: `elab-request.json` (written here:
`{"header": ..., "body": ...}`, the header normalized by `proofgate.lean.header.split_header` as
the REPL pool sends it), `elab-reply.json` and the export. What a run comes to (`elab_outcome`):
- exit 0, a message of severity error in the reply: the text does not elaborate, a
  `CompileFailure` whose messages are placed in the submitted text (`line:column: text`, as a
  compile's are);
- exit 0, no error: None, and the export must exist;
- exit 1 with the elaborator's refusal line: `bad_arguments`/`bad_request` are the service's
  fault (`AuditError`); any other refusal (Lean threw while elaborating, the writer refused the
  constants) is the text's, a `CompileFailure`;
- over time or memory, or any other exit: as a compile that ended so.

Untested against real Lean: proofgate-elab has never run.
"""

from __future__ import annotations

import json
from pathlib import Path

from proofgate.environments.readiness import ELAB_PATH
from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError
from proofgate.lean.header import map_body_positions, map_header_positions, split_header
from proofgate.lean.reply import ReplReply
from proofgate.verify.contract import CompileFailure

__all__ = [
    "ELAB_BINARY",
    "ELAB_REPLY",
    "ELAB_REQUEST",
    "SERVICE_REFUSALS",
    "elab_argv",
    "elab_refusal",
    "option_args",
    "placed_errors",
    "refusal_failure",
    "reply_errors",
    "write_request",
]

#: The elaborator's executable inside an environment's Lake build directory.
ELAB_BINARY = ELAB_PATH
ELAB_REQUEST = "elab-request.json"
ELAB_REPLY = "elab-reply.json"
#: Refusals that are the caller's fault, never the text's.
SERVICE_REFUSALS = frozenset({"bad_arguments", "bad_request"})
#: A reply larger than this is a broken run (the messages of one small file).
MAX_REPLY_BYTES = 16 << 20
#: The refusal's detail quoted in a verdict, at most.
DETAIL_CHARS = 500


def write_request(directory: Path, code: str) -> Path:
    """A fresh directory holding the request for `code`: its normalized header and its body."""
    split = split_header(code)
    directory.mkdir(parents=True)
    request = directory / ELAB_REQUEST
    payload = {"header": split.header, "body": split.body}
    request.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return request


def elab_argv(
    command: list[str], *, request: Path, reply: Path, export: Path, environment: Environment
) -> list[str]:
    """`proofgate-elab --request F --reply F --export F [--option NAME=VALUE]...`: the
    environment's option set, under which Lean elaborates and which the export's meta line
    records."""
    argv = [*command, "--request", str(request), "--reply", str(reply), "--export", str(export)]
    return [*argv, *option_args(environment)]


def option_args(environment: Environment) -> list[str]:
    """The environment's option set as the elaborator (one-shot or zygote) takes it:
    `--option NAME=VALUE` for each `-DNAME=VALUE` a compile gets."""
    return [
        arg for flag in environment.option_args() for arg in ("--option", flag.removeprefix("-D"))
    ]


def elab_refusal(stdout: bytes) -> tuple[str, str] | None:
    """The elaborator's refusal `(code, detail)` from its stdout's last line, if it is one."""
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        refusal = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    if not isinstance(refusal, dict) or not isinstance(refusal.get("error"), str):
        return None
    detail = refusal.get("detail")
    return refusal["error"], (detail if isinstance(detail, str) else "")[:DETAIL_CHARS]


def placed_errors(reply: ReplReply) -> list[str]:
    """A reply's error messages as `line:column: text`, in order."""
    return [
        f"{m.pos.line if m.pos else '?'}:{m.pos.column if m.pos else '?'}: {m.data}"
        for m in reply.errors
    ]


def reply_errors(path: Path, code: str) -> list[str]:
    """The error messages of the reply at `path`, placed in `code` (the submitted text), in order:
    the header's, then the body's. A missing or malformed reply is an `AuditError`."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_REPLY_BYTES + 1)
    except OSError as exc:
        raise AuditError(f"the elaborator exited 0 but its reply is unreadable: {exc}") from exc
    if len(data) > MAX_REPLY_BYTES:
        raise AuditError(f"the elaborator's reply is over {MAX_REPLY_BYTES} bytes")
    try:
        reply = json.loads(data)
        if not isinstance(reply, dict) or not set(reply) <= {"header", "body"}:
            raise ValueError("not {header, body}")
        header = ReplReply.parse(reply["header"])
        body = ReplReply.parse(reply["body"]) if "body" in reply else None
    except (ValueError, KeyError) as exc:
        raise AuditError(f"the elaborator's reply is malformed: {exc}") from exc
    if body is None and not header.has_errors:
        raise AuditError("the elaborator's reply has no body, and no error in its header")
    split = split_header(code)
    errors = placed_errors(map_header_positions(header, split))
    if body is not None:
        errors += placed_errors(map_body_positions(body, split.header_lines))
    return errors


def refusal_failure(code: str, detail: str, *, what: str) -> CompileFailure:
    """An elaborator refusal that is the text's fault, as the verdict's failure."""
    if code == "elaboration_failed":
        return CompileFailure(f"{what} does not elaborate", messages=[detail])
    return CompileFailure(f"{what} could not be exported: {code}: {detail}")
