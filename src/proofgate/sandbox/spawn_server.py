"""The spawn server: a small process that starts the service's children, so the service never forks.

Run as a script by `proofgate.sandbox.spawn_client` (standard library only, `python -I -S`), with
one end of a `SOCK_SEQPACKET` socket pair as its only argument. Each message is one JSON object:

- in: `{"op": "spawn", "id": N, "argv": [...], "cwd": "...", "env": {...}, "passed": K}` with the
  child's stdin, stdout and stderr attached (`SCM_RIGHTS`), then K more descriptors (at most
  MAX_PASSED_FDS) that the child gets as its fds 3, 4, ...;
- out: `{"op": "started", "id": N, "pid": P}` with a pidfd of the child attached, or
  `{"op": "failed", "id": N, "errno": E, "message": "..."}`; later, once the child exited and was
  reaped here, `{"op": "exited", "pid": P, "returncode": R}` (negative: killed by that signal).

Each child starts in a session of its own. When the service's end closes (it exited, or was
killed), every child's process group is killed, the children are reaped, and the server exits.
A message it cannot read is a broken protocol: the server ends the same way.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from typing import Any

#: Largest message the service may send (argv and environment of one child).
MAX_MESSAGE_BYTES = 1 << 20
#: Descriptors every spawn request carries: the child's stdin, stdout and stderr.
STDIO_FDS = 3
#: More descriptors a request may pass, which the child gets as its fds 3, 4, ...
MAX_PASSED_FDS = 8
#: The first of them in the child; this server keeps 3 .. 3 + MAX_PASSED_FDS - 1 for them.
FIRST_PASSED_FD = 3
#: Seconds to outwait children killed at shutdown before exiting anyway.
SHUTDOWN_WAIT_SECONDS = 5.0


class ProtocolError(Exception):
    """The service sent something that is not a spawn request."""


def _receive(channel: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The next request and its descriptors; None once the service's end is closed."""
    space = socket.CMSG_SPACE((STDIO_FDS + MAX_PASSED_FDS) * array.array("i").itemsize)
    try:
        data, ancillary, flags, _ = channel.recvmsg(
            MAX_MESSAGE_BYTES, space, socket.MSG_CMSG_CLOEXEC
        )
    except ConnectionResetError:
        return None
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            fds.extend(received)
    if not data and not fds:
        return None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        _close_all(fds)
        raise ProtocolError("a message longer than the server reads")
    try:
        request = json.loads(data)
    except ValueError as exc:
        _close_all(fds)
        raise ProtocolError(f"not JSON: {exc}") from exc
    passed = request.get("passed", 0) if isinstance(request, dict) else None
    if (
        not isinstance(request, dict)
        or request.get("op") != "spawn"
        or not isinstance(passed, int)
        or not 0 <= passed <= MAX_PASSED_FDS
        or len(fds) != STDIO_FDS + passed
    ):
        _close_all(fds)
        raise ProtocolError("not a spawn request with its descriptors")
    return request, fds


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _send(channel: socket.socket, message: dict[str, Any], fd: int | None = None) -> None:
    payload = json.dumps(message).encode()
    if fd is None:
        channel.sendmsg([payload])
    else:
        rights = array.array("i", [fd]).tobytes()
        channel.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])


class SpawnServer:
    """Starts children on request, reports their exits, and kills them all when the service goes."""

    def __init__(self, channel: socket.socket, placeholder: int) -> None:
        self.channel = channel
        self.placeholder = placeholder  # /dev/null, held at each number kept for passed fds
        self._unplace()
        self.selector = selectors.DefaultSelector()
        self.selector.register(channel, selectors.EVENT_READ)
        self.children: dict[int, tuple[subprocess.Popen[bytes], int]] = {}  # pidfd -> child

    def serve(self) -> None:
        try:
            while True:
                for key, _ in self.selector.select():
                    if key.fileobj is self.channel:
                        received = _receive(self.channel)
                        if received is None:
                            return
                        self._spawn(*received)
                    else:
                        self._reap(int(key.fd))
        except ProtocolError as exc:
            print(f"proofgate spawn server: {exc}", file=sys.stderr)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service is gone: as at the end of its socket
        finally:
            self._kill_all()

    def _spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        identity = request.get("id")
        try:
            argv, cwd, env = request["argv"], request["cwd"], request["env"]
            if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
                raise ValueError("argv must be a non-empty list of strings")
            passed = self._place(fds[STDIO_FDS:])
            child = subprocess.Popen(
                argv,
                cwd=str(cwd),
                env={str(k): str(v) for k, v in dict(env).items()},
                stdin=fds[0],
                stdout=fds[1],
                stderr=fds[2],
                start_new_session=True,
                pass_fds=passed,
            )
        except (OSError, ValueError, TypeError, KeyError, subprocess.SubprocessError) as exc:
            code = exc.errno if isinstance(exc, OSError) and exc.errno else 0
            _send(
                self.channel, {"op": "failed", "id": identity, "errno": code, "message": str(exc)}
            )
            return
        finally:
            self._unplace()
            _close_all(fds)
        pidfd = os.pidfd_open(child.pid)  # the child is unreaped until `_reap`: the pid is its own
        self.children[pidfd] = (child, child.pid)
        self.selector.register(pidfd, selectors.EVENT_READ)
        _send(self.channel, {"op": "started", "id": identity, "pid": child.pid}, pidfd)

    def _place(self, fds: list[int]) -> tuple[int, ...]:
        """Put the passed descriptors where the child gets them (3, 4, ...; Popen keeps numbers)."""
        places = tuple(range(FIRST_PASSED_FD, FIRST_PASSED_FD + len(fds)))
        for fd, place in zip(fds, places, strict=True):
            os.dup2(fd, place)
        return places

    def _unplace(self) -> None:
        """Back to placeholders, so no other descriptor of this server takes those numbers."""
        for place in range(FIRST_PASSED_FD, FIRST_PASSED_FD + MAX_PASSED_FDS):
            os.dup2(self.placeholder, place, inheritable=False)

    def _reap(self, pidfd: int) -> None:
        child, pid = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        returncode = child.wait()
        _send(self.channel, {"op": "exited", "pid": pid, "returncode": returncode})

    def _kill_all(self) -> None:
        for _, pid in self.children.values():
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # unreaped, so the group is still this child's
        for pidfd, (child, _) in list(self.children.items()):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(SHUTDOWN_WAIT_SECONDS)
            os.close(pidfd)
        self.children.clear()


def _above_kept(fd: int) -> int:
    """`fd` moved above the numbers kept for passed descriptors (close-on-exec)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_PASSED_FD + MAX_PASSED_FDS)
    os.close(fd)
    return moved


def main(argv: list[str]) -> int:
    # Signals for the service's terminal are not for this process: it ends when the service does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The channel and the placeholder live above the numbers kept for passed descriptors.
    channel_fd = _above_kept(int(argv[1]))
    placeholder = _above_kept(os.open(os.devnull, os.O_RDONLY))
    SpawnServer(socket.socket(fileno=channel_fd), placeholder).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
