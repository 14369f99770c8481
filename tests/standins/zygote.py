"""A stand-in elaboration zygote (docs/audit-design.md, section 9, step 7), speaking
`proofgate.lean.zygote`'s protocol. Never a verification path: no Lean runs.

    python tests/standins/zygote.py [--import-seconds S] [--scenario FILE [--option N=V]...]

It "imports" once (sleeps S), makes itself non-dumpable (its children inherit it: a same-uid
sibling cannot ptrace them or open their /proc files), prints the ready line, then serves fork
commands on its fd 3. Each child keeps only its three pipes (as fds 3, 4, 5; 0-2 are /dev/null),
installs the seccomp filter the design gives the child (`child_filter`), reads its request
(`{"body": ...}`) and writes its reply on fd 4 and an export on fd 5, then exits.

With `--scenario` it elaborates (`zygote_elab.py`): it reads `{"header": ...}` on stdin, imports
that header once and says `{"ready": true, "header": CommandResponse}` (`"ready": false` and
exits when the header has an error); each child's reply is `{"response": CommandResponse}` for
its body on that header, and its export is the body's, as `proofgate-elab` writes them. Without
it, a child's reply lists its attempts and its export is its body's first line.

A request's body can ask the child to misbehave, one directive a line, so tests see each rule
hold in a child that really tried (the reply lists every attempt and the errno it met):
- `-- zygote: sleep S`: sleep (a sibling to attack, or a child past its deadline);
- `-- zygote: try NAME`: one hostile attempt, NAME in ATTEMPTS, against a sibling (another child
  of the same zygote) or the zygote itself;
- `-- zygote: flood N`: write N bytes of reply (past a cap);
- `-- zygote: grow MB`: hold MB more of private memory, then sleep (past a memory cap);
- `-- zygote: threads N`: start up to N threads that live as long as the child (Lean's tasks on
  dedicated threads, or a bomb); the reply's `threads` says how many it got before one failed
  (`threads N strict`: abort instead, as a runtime that cannot start a thread it needs);
- `-- zygote: export TEXT`: the export's content (default: the body's first line);
- `-- zygote: steal`: a forger. It waits for a sibling and reads that sibling's export through
  `/proc/SIBLING/fd/5` (opening a pipe's write end there for reading gives its read end); if it
  can, it answers a clean reply with the stolen export as its own. Either way its reply says what
  the attempt met (an `info` message `steal: errno N`, 0 when it got in).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyseccomp as seccomp

BENCH = Path(__file__).resolve().parents[2] / "src" / "proofgate" / "bench"
sys.path.insert(0, str(BENCH))  # the bench's simulated zygote serves the same protocol
from simulated_zygote import serve  # type: ignore[import-not-found]  # noqa: E402

PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
#: The name a child takes once it has its request (a zygote forks the next child ahead, which
#: waits with nothing to steal): what an attacker picks a sibling by, as it could by CPU time.
BUSY = b"pg-busy"
PTRACE_ATTACH = 16
CLONE_THREAD = 0x10000
_libc = ctypes.CDLL(None, use_errno=True)


def child_filter(own_pid: int) -> seccomp.SyscallFilter:
    """What a child may not do (design, section 6, requirement 1): trace or read another process,
    open sockets, run a program, start a process, or signal anyone but itself."""
    denied = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in (
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "socket",
        "socketpair",
        "connect",
        "execve",
        "execveat",
        "pidfd_open",  # a sibling's pidfd would signal it past the kill rule
        "pidfd_send_signal",
    ):
        rules.add_rule(denied, name)
    # clone3 cannot be filtered on its flags (they are behind a pointer): refused with ENOSYS so
    # the C library falls back to clone, whose flags can be
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    for name in ("kill", "tkill"):
        rules.add_rule(denied, name, seccomp.Arg(0, seccomp.NE, own_pid))
    rules.add_rule(denied, "tgkill", seccomp.Arg(0, seccomp.NE, own_pid))
    return rules


def _errno_of(action: Callable[[], object]) -> int:
    """0 if `action` succeeded, else the errno it failed with."""
    try:
        action()
    except OSError as exc:
        return exc.errno or -1
    return 0


def _sibling() -> int | None:
    """Another live child of this child's zygote that has its request (read from
    /proc/PID/stat, open to anyone)."""
    me, parent = os.getpid(), os.getppid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, parent):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                name, _, rest = stat.read().partition(b" (")[2].rpartition(b")")
        except OSError:
            continue
        fields = rest.split()
        if int(fields[1]) == parent and fields[0] != b"Z" and name == BUSY:
            return int(entry)
    return None


def _ptrace(pid: int) -> None:
    if _libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _attempts(sibling: int | None) -> dict[str, Callable[[], object]]:
    target = sibling if sibling is not None else -1
    return {
        "sibling-fd": lambda: open(f"/proc/{target}/fd/4", "rb").close(),  # noqa: SIM115
        "sibling-mem": lambda: open(f"/proc/{target}/mem", "rb").close(),  # noqa: SIM115
        "sibling-environ": lambda: open(f"/proc/{target}/environ", "rb").read(),  # noqa: SIM115
        "ptrace-sibling": lambda: _ptrace(target),
        "signal-sibling": lambda: os.kill(target, signal.SIGSTOP),
        "signal-zygote": lambda: os.kill(os.getppid(), signal.SIGSTOP),
        "pidfd-signal-sibling": lambda: signal.pidfd_send_signal(
            os.pidfd_open(target), signal.SIGSTOP
        ),
        "abstract-socket": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
        "exec": lambda: os.execv("/bin/true", ["true"]),
        "fork": os.fork,
        "write-file": lambda: open("/tmp/left-for-a-sibling", "x").close(),  # noqa: SIM115
    }


ATTEMPTS = tuple(_attempts(None))


def _steal() -> tuple[int, bytes]:
    """A sibling's export, read through its fd 5, or the errno that stopped it."""
    deadline = time.monotonic() + 10.0
    while (sibling := _sibling()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with open(f"/proc/{sibling if sibling is not None else -1}/fd/5", "rb") as stolen:
            return 0, stolen.read()
    except OSError as exc:
        return exc.errno or -1, b""


def _start_threads(count: int) -> int:
    """Start up to `count` threads that wait for the child's exit; how many started."""
    started = 0
    for _ in range(count):
        try:
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        except RuntimeError:  # "can't start new thread": clone failed (EAGAIN at pids.max)
            break
        started += 1
    return started


def _child(identity: int, fds: list[int], elaborator: object | None) -> None:
    """In the forked child: confine, read the request, answer, exit. Never returns."""
    status = 0
    try:
        for place, fd in enumerate(fds, start=100):  # out of the way first, then to 3, 4, 5
            os.dup2(fd, place)
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        for place in (3, 4, 5):
            os.dup2(97 + place, place)
        os.closerange(6, 1 << 16)
        child_filter(os.getpid()).load()
        with open(3, "rb") as source:
            request = json.loads(source.read())
        _libc.prctl(PR_SET_NAME, ctypes.c_char_p(BUSY), 0, 0, 0)
        # exactly {"body": string}, as proofgate-elab's child reads it (anything else: exit 1)
        if not isinstance(request, dict) or set(request) != {"body"}:
            raise ValueError(f"the request is not {{body}}: {sorted(request)}")
        body = request["body"]
        if not isinstance(body, str):
            raise ValueError("body must be a string")
        reply: dict[str, Any] = {"request": identity, "messages": [], "attempts": {}}
        export = (body.splitlines()[0] if body else "").encode()
        stolen: tuple[int, bytes] | None = None
        held: list[bytearray] = []
        flood = 0
        for line in body.splitlines():
            words = line.removeprefix("-- zygote:").split()
            if not line.startswith("-- zygote:") or not words:
                continue
            if words[0] == "sleep":
                time.sleep(float(words[1]))
            elif words[0] == "try":
                attempts = _attempts(_sibling())
                reply["attempts"][words[1]] = _errno_of(attempts[words[1]])
            elif words[0] == "flood":
                flood = int(words[1])
            elif words[0] == "grow":
                held.append(bytearray(b"\x01" * (int(words[1]) << 20)))
                time.sleep(30)
            elif words[0] == "threads":
                reply["threads"] = _start_threads(int(words[1]))
                if words[2:] == ["strict"] and reply["threads"] < int(words[1]):
                    os.abort()  # as a runtime that cannot start a thread it needs
            elif words[0] == "export":
                export = " ".join(words[1:]).encode()
            elif words[0] == "steal":
                stolen = _steal()
        if elaborator is not None:
            elaborated, made = elaborator.body(body)  # type: ignore[attr-defined]
            reply = {**elaborated, **({"attempts": reply["attempts"]} if reply["attempts"] else {})}
            export = made or b""
            if stolen is not None:
                said = {"severity": "info", "pos": {"line": 1, "column": 0}, "endPos": None}
                reply["response"].setdefault("messages", []).append(
                    {**said, "data": f"steal: errno {stolen[0]}"}
                )
        if stolen is not None and stolen[0] == 0:  # the forgery: a clean reply, another's export
            reply = {"response": {"env": 1}}
            export = stolen[1]
        with open(4, "wb") as out:
            out.write(json.dumps(reply).encode() + b"\n")
            out.write(b"x" * flood)
        with open(5, "wb") as out:
            out.write(export)
    except BaseException as exc:  # noqa: BLE001 - the child's last words, then its exit status
        os.write(2, f"{exc!r}\n".encode())
        status = 1
    os._exit(status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-seconds", type=float, default=0.0)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--option", action="append", default=[])
    args = parser.parse_args()
    ready: dict[str, object] = {"ready": True}
    elaborator = None
    if args.scenario is not None:
        from zygote_elab import Elaborator  # type: ignore[import-not-found]  # a sibling script

        elaborator = Elaborator(args.scenario, args.option, args.import_seconds)
        hello = json.loads(sys.stdin.readline())
        if (
            not isinstance(hello, dict)
            or set(hello) != {"header"}
            or not isinstance(hello["header"], str)
        ):  # as proofgate-elab --zygote refuses it: one line, exit 1
            print(json.dumps({"error": "bad_request", "detail": "not {header: string}"}))
            sys.exit(1)
        ready["header"] = header = elaborator.import_header(hello["header"])
        if any(m.get("severity") == "error" for m in header.get("messages", [])):
            print(json.dumps({**ready, "ready": False}), flush=True)
            return
    else:
        time.sleep(args.import_seconds)  # the header's import, once for every child
    if _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_DUMPABLE, 0) failed")
    print(json.dumps(ready), flush=True)
    serve(socket.socket(fileno=3), lambda identity, fds: _child(identity, fds, elaborator))


if __name__ == "__main__":
    main()
