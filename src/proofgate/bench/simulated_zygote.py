"""The SIMULATED elaboration zygote of `proofgate bench`'s audit model: `proofgate-elab --zygote`
(`PROOFGATE_AUDIT_COMPILER=zygote`; docs/audit-design.md, step 8).

No Lean is in it. It speaks `proofgate.lean.zygote`'s protocol and costs what the model says the
real one costs: the header's import once (a sleep of `import_seconds`), then per check a fork, and
in the child the elaboration (a sleep of `elaboration_factor` times the body's `-- standin: sleep
S` markers: the simulated REPL's check time for the same text), a clean reply and a SIMULATED
export (`simulated_lean`'s record of the body's declarations under `ProofgateSubmission`), which
the simulated warm checker judges. Not modelled: the child's seccomp filter (the native shim's
costs a few microseconds) and any message or sorry (the bench's items are clean proofs).

It is copied as `PROJECT/.lake/build/bin/proofgate-elab`, beside a copy of `simulated_lean.py`
that it imports (standard library only: it runs under the system's Python inside the jail).
"""

from __future__ import annotations

import array
import ctypes
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__:
    from proofgate.bench import simulated_lean
else:  # a file: the copy of simulated_lean.py beside it (`-I` leaves the script's dir off the path)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import simulated_lean  # type: ignore[import-not-found,no-redef]  # the sibling file

FORK, KILL = 1, 2
STARTED, EXITED = 1, 2
PR_SET_DUMPABLE = 4
MODULE = "ProofgateSubmission"


def _send(channel: socket.socket, identity: int, kind: int, value: int) -> None:
    channel.send(
        identity.to_bytes(8, "little")
        + kind.to_bytes(4, "little")
        + bytes(4)
        + value.to_bytes(8, "little", signed=True)
    )


def _child(fds: list[int], config: dict[str, Any]) -> None:
    """In the forked child: its three pipes, the modelled elaboration, reply and export."""
    status = 0
    try:
        request_fd, reply_fd, export_fd = fds
        with open(request_fd, "rb") as source:
            body = str(json.loads(source.read())["body"])
        marked = sum(float(s) for s in simulated_lean.SLEEP_MARKER.findall(body))
        time.sleep(marked * float(config["elaboration_factor"]))
        record = {"module": MODULE, "declarations": simulated_lean._declarations(body)}
        with open(reply_fd, "wb") as reply:
            reply.write(json.dumps({"response": {"env": 1}}).encode() + b"\n")
        with open(export_fd, "wb") as export:
            export.write(simulated_lean.EXPORT_MARKER + json.dumps(record).encode())
    except BaseException as exc:  # noqa: BLE001 - the child's last words, then its exit status
        os.write(2, f"{exc!r}\n".encode())
        status = 1
    os._exit(status)


def serve(channel: socket.socket, child: Callable[[int, list[int]], None]) -> None:
    """Serve fork commands on `channel` until it closes (then kill every child). A forked child
    runs `child(request id, [request, reply, export fds])`, which must end the process. The
    test stand-in (tests/standins/zygote.py) serves with this loop too."""
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    children: dict[int, tuple[int, int]] = {}  # pidfd -> (request id, pid)
    space = socket.CMSG_SPACE(3 * array.array("i").itemsize)
    while True:
        for key, _ in selector.select():
            if key.fileobj is not channel:
                identity, pid = children.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, wait_status = os.waitpid(pid, 0)
                _send(channel, identity, EXITED, os.waitstatus_to_exitcode(wait_status))
                continue
            data, ancillary, _, _ = channel.recvmsg(16, space)
            if not data:
                for _, pid in children.values():
                    os.kill(pid, signal.SIGKILL)
                return
            identity = int.from_bytes(data[:8], "little")
            fds = [fd for _, _, payload in ancillary for fd in array.array("i", payload)]
            if int.from_bytes(data[8:12], "little") == KILL:
                for known, pid in children.values():
                    if known == identity:
                        os.kill(pid, signal.SIGKILL)
                continue
            pid = os.fork()
            if pid == 0:
                selector.close()
                channel.close()
                child(identity, fds)
                os._exit(1)  # `child` must not return
            for fd in fds:
                os.close(fd)
            pidfd = os.pidfd_open(pid)
            children[pidfd] = (identity, pid)
            selector.register(pidfd, selectors.EVENT_READ)
            _send(channel, identity, STARTED, pid)


def main() -> int:
    if sys.argv[1:2] != ["--zygote"]:
        print("simulated proofgate-elab: only --zygote is modelled", file=sys.stderr)
        return 2
    config = simulated_lean._config()
    hello = json.loads(sys.stdin.readline())
    if simulated_lean.IMPORT.search(str(hello["header"])):
        time.sleep(float(config["import_seconds"]))  # once, for every child
    if ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        return 1
    print(json.dumps({"ready": True, "header": {"env": 0}}), flush=True)
    serve(socket.socket(fileno=3), lambda _, fds: _child(fds, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
