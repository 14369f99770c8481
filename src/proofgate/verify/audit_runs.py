"""What one jailed audit process came to (`RunResult`), and how its ending reads: a kill from
outside (`killed_by`, run once more), an exit's text, a compile's or an elaboration's failure."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from proofgate.exceptions import AuditError
from proofgate.logs import get_logger
from proofgate.verify.contract import CompileFailure
from proofgate.verify.elab_audit import (
    ELAB_REPLY,
    SERVICE_REFUSALS,
    elab_refusal,
    refusal_failure,
    reply_errors,
)

__all__ = [
    "MAX_OUTPUT",
    "MAX_SIGNAL",
    "SIGNAL_EXIT",
    "STDERR_TAIL",
    "RunResult",
    "Runner",
    "compile_failure",
    "elab_failure",
    "exit_text",
    "killed_by",
    "ms_since",
    "once_more_if_killed",
]

_log = get_logger("proofgate.audit")

#: Largest stdout (or stderr) kept from a compile or the checker; more is a broken run.
MAX_OUTPUT = 16 << 20
#: Tail of stderr quoted in an AuditError.
STDERR_TAIL = 2_000
#: bwrap (like a shell) reports a child killed by signal N as exit status 128+N.
SIGNAL_EXIT = 128
MAX_SIGNAL = 64


class RunResult(Protocol):
    """What one jailed run came to (`proofgate.sandbox.JailedResult` has this shape)."""

    @property
    def returncode(self) -> int | None: ...
    @property
    def stdout(self) -> bytes: ...
    @property
    def stderr(self) -> bytes: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def out_of_memory(self) -> bool: ...
    @property
    def duration_ms(self) -> int | float: ...
    @property
    def output_truncated(self) -> bool: ...
    @property
    def limit_exceeded(self) -> str | None: ...


#: `proofgate.sandbox.run_jailed`'s signature: one program run to completion in a jail.
Runner = Callable[..., Awaitable[RunResult]]


def killed_by(result: RunResult) -> int | None:
    """The signal that ended `result` when the service did not end it itself (its timeout, a cap
    the cgroup or the watchdog recorded: memory or processes, its output cap): an infrastructure
    kill. A process killed by signal N shows as -N when it is our child, and as 128+N through
    bwrap."""
    if (
        result.timed_out
        or result.out_of_memory
        or result.output_truncated
        or result.limit_exceeded is not None
    ):
        return None
    code = result.returncode
    if code is None or code == 0:
        return None
    if code < 0:
        return -code
    if SIGNAL_EXIT < code <= SIGNAL_EXIT + MAX_SIGNAL:
        return code - SIGNAL_EXIT
    return None


def exit_text(result: RunResult) -> str:
    number = killed_by(result)
    try:
        name = signal.Signals(number).name if number is not None else ""
    except ValueError:
        name = f"signal {number}"
    return f"exit {result.returncode} ({name})" if name else f"exit {result.returncode}"


async def once_more_if_killed(run: Callable[[], Awaitable[RunResult]], *, what: str) -> RunResult:
    """`run()`, and once more on a fresh process when a signal the service did not send ended it.
    Killed from outside twice: `AuditError` (the verdict is `internal`, never cached), naming both
    exits. A kill is not the proof's outcome, so it is never turned into `failed`."""
    first = await run()
    if killed_by(first) is None:
        return first
    _log.warning("audit_process_killed", what=what, exit=first.returncode, retry=True)
    second = await run()
    if killed_by(second) is None:
        return second
    raise AuditError(
        f"{what} was killed from outside twice ({exit_text(first)}, then {exit_text(second)}), "
        "neither by the service's timeout nor for memory: the service's fault, not the proof's"
    )


def compile_failure(result: RunResult, *, what: str) -> CompileFailure:
    """Lean's messages (from `--json` lines, else the raw text) as a `CompileFailure`."""
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    messages: list[str] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            messages.append(line)
            continue
        if not isinstance(message, dict):
            messages.append(line)
        elif message.get("severity") == "error":
            pos = message.get("pos") or {}
            messages.append(
                f"{pos.get('line', '?')}:{pos.get('column', '?')}: {message.get('data', '')}"
            )
    if stderr.strip():
        messages.append(stderr.strip()[-STDERR_TAIL:])
    if result.timed_out:
        summary = f"compiling {what} timed out"
    elif result.out_of_memory:
        summary = f"compiling {what} went over the memory cap"
    elif result.limit_exceeded == "processes":
        summary = f"compiling {what} went over the process cap"
    else:
        summary = f"{what} does not compile (exit {result.returncode})"
    return CompileFailure(
        summary,
        messages=messages,
        output=(stdout + stderr)[-MAX_OUTPUT:],
        timed_out=result.timed_out,
        out_of_memory=result.out_of_memory,
    )


def elab_failure(
    result: RunResult, directory: Path, code: str, *, what: str
) -> CompileFailure | None:
    """What a `proofgate-elab` run on `code` says of it (verify/elab_audit.py): None when it
    elaborated without an error (its export is then read), else the text's `CompileFailure`;
    an `AuditError` when the run or its reply is the service's problem."""
    if result.timed_out or result.out_of_memory or result.limit_exceeded is not None:
        return compile_failure(result, what=what)
    if result.returncode == 1 and (refusal := elab_refusal(result.stdout)) is not None:
        kind, detail = refusal
        if kind in SERVICE_REFUSALS:
            raise AuditError(f"proofgate-elab refused its request ({kind}): {detail}")
        return refusal_failure(kind, detail, what=what)
    if result.returncode != 0:
        return compile_failure(result, what=what)
    errors = reply_errors(directory / ELAB_REPLY, code)
    if errors:
        return CompileFailure(f"{what} does not compile", messages=errors)
    return None


def ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
