"""The service's side of the spawn server (`proofgate.sandbox.spawn_server`).

CPython 3.11 holds the GIL through vfork and exec, so a process started from any thread of the
service stalls its event loop, and a `preexec_fn` forks the whole service. The service therefore
never starts a child itself: it makes the three pipes, sends their child ends to the spawn server
(one small process per service process, started once), and gets back the pid and a pidfd; the spawn
server is the children's parent, reaps them and reports each exit status. One thread of the
service reads the spawn server's messages and hands each to the event loop that asked.

If the spawn server dies, the children it reported are killed through their pidfds (their exit
status is then -9), requests in flight fail with `ChildProcessError`, and the next spawn starts a
new server.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofgate.logs import get_logger
from proofgate.sandbox.spawned import SpawnedProcess, kill_pidfd

__all__ = ["SpawnServerClient", "spawn_server"]

_log = get_logger(__name__)

#: The program the spawn server runs: a file of the standard library only, run by path.
SERVER_SCRIPT = Path(__file__).with_name("spawn_server.py")
#: Descriptors a start may pass beyond the three pipes (the spawn server's MAX_PASSED_FDS).
MAX_PASSED_FDS = 8
#: Bytes of one message from the spawn server (JSON of a pid or an exit status).
_REPLY_BYTES = 64 << 10
#: Returned for a child whose exit status was lost with its spawn server (it was killed).
KILLED_WITH_SERVER = -signal.SIGKILL
#: asyncio's default StreamReader limit.
_STREAM_LIMIT = 1 << 16


@dataclass
class _Request:
    """A spawn sent and not yet answered: where its answer and, later, its exit status go."""

    loop: asyncio.AbstractEventLoop
    started: asyncio.Future[tuple[int, int]]
    exited: asyncio.Future[int]
    abandoned: bool = False


@dataclass
class _Child:
    """A started child: where its exit status goes, and a pidfd to kill it by if the server dies."""

    loop: asyncio.AbstractEventLoop
    exited: asyncio.Future[int]
    pidfd: int


def _settle(
    future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    """On the future's loop: set it, unless someone already did (or cancelled it)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _post(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], **outcome: Any) -> None:
    """From the reader thread: settle `future` on its loop; a closed loop has no one waiting."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, outcome.get("result"), outcome.get("error"))


def _kill_handed_over(started: asyncio.Future[tuple[int, int]]) -> None:
    """Kill a child handed over to a caller that had already gone."""
    if started.cancelled() or started.exception() is not None:
        return
    _, pidfd = started.result()
    kill_pidfd(pidfd)
    os.close(pidfd)


class SpawnServerClient:
    """One spawn server and the thread that reads it. Use `spawn_server()` for the process's own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._requests: dict[int, _Request] = {}
        self._children: dict[int, _Child | None] = {}  # pid -> waiter (None: abandoned)
        self._send_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.closed = False
        self._closing = False  # `close` was called: the server's end is no surprise
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SERVER_SCRIPT), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # it writes nothing there; stderr stays for a complaint
                start_new_session=True,
            )
        self._socket = ours
        with contextlib.suppress(OSError):  # more requests queued before a send must wait
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self._reader = threading.Thread(target=self._read, name="spawn-server-reader", daemon=True)
        self._reader.start()
        _log.debug("spawn_server_started", pid=self.process.pid)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        stream_limit: int = _STREAM_LIMIT,
        pass_fds: Sequence[int] = (),
    ) -> SpawnedProcess:
        """Start `argv` in a session of its own with piped stdin, stdout and stderr, and
        `pass_fds` (copies; the caller keeps its own) as its fds 3, 4, ... Raises the OSError the
        spawn server's exec raised, or ChildProcessError if the server is gone."""
        if len(pass_fds) > MAX_PASSED_FDS:
            raise ValueError(f"at most {MAX_PASSED_FDS} descriptors can be passed to a child")
        loop = asyncio.get_running_loop()
        stdin_read, stdin_write = os.pipe2(os.O_CLOEXEC)
        stdout_read, stdout_write = os.pipe2(os.O_CLOEXEC)
        stderr_read, stderr_write = os.pipe2(os.O_CLOEXEC)
        ours = [stdin_write, stdout_read, stderr_read]
        request = _Request(loop, loop.create_future(), loop.create_future())
        try:
            with self._lock:
                if self.closed:
                    raise ChildProcessError("the spawn server has exited")
                identity = next(self._ids)
                self._requests[identity] = request
            message = {
                "op": "spawn",
                "id": identity,
                "argv": list(argv),
                "cwd": cwd,
                "env": dict(env),
                "passed": len(pass_fds),
            }
            given = [stdin_read, stdout_write, stderr_write, *pass_fds]
            rights = array.array("i", given).tobytes()
            try:
                await self._send(loop, json.dumps(message).encode(), rights, request)
            except BaseException as exc:
                with self._lock:
                    self._requests.pop(identity, None)
                if isinstance(exc, OSError):
                    raise ChildProcessError(f"the spawn server is gone ({exc})") from exc
                raise
        except BaseException:
            _close_fds(ours)
            raise
        finally:
            _close_fds([stdin_read, stdout_write, stderr_write])  # the child's now, not ours
        try:
            pid, pidfd = await asyncio.shield(request.started)
        except asyncio.CancelledError:
            self._abandon(request)
            _close_fds(ours)
            raise
        except BaseException:
            _close_fds(ours)
            raise
        return await SpawnedProcess.connect(
            pid, pidfd, request.exited, stdin_write, stdout_read, stderr_read, stream_limit
        )

    async def _send(
        self, loop: asyncio.AbstractEventLoop, payload: bytes, rights: bytes, request: _Request
    ) -> None:
        """Send one request without ever blocking the loop: while the socket's buffer is full (a
        burst of starts, or a spawn server that stopped reading) wait until it takes more, or
        until the server is found gone (which fails `request.started`). The loop's waiting sends
        take turns: a loop watches a descriptor for one writer only."""
        if self._try_send(payload, rights):
            return
        with self._lock:
            turn = self._send_turns.setdefault(loop, asyncio.Lock())
        async with turn:
            while not self._try_send(payload, rights):
                descriptor = self._socket.fileno()
                if descriptor < 0:
                    raise ChildProcessError("the spawn server has exited")
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(descriptor, _settle, writable)
                try:
                    either: set[asyncio.Future[Any]] = {writable, request.started}
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    loop.remove_writer(descriptor)
                if request.started.done():
                    request.started.result()  # the server is gone: its error

    def _try_send(self, payload: bytes, rights: bytes) -> bool:
        """Send now if the socket's buffer takes it; False if it is full."""
        try:
            self._socket.sendmsg(
                [payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], socket.MSG_DONTWAIT
            )
        except BlockingIOError:
            return False
        return True

    def _abandon(self, request: _Request) -> None:
        """A caller cancelled while its child was being started: kill the child when it comes
        (the reader does, if it has not handed the child over yet; else the future's callback)."""
        with self._lock:
            request.abandoned = True
        request.started.add_done_callback(_kill_handed_over)

    # --- the reader thread ----------------------------------------------------------------

    def _read(self) -> None:
        space = socket.CMSG_SPACE(array.array("i").itemsize)
        try:
            while True:
                data, ancillary, _, _ = self._socket.recvmsg(
                    _REPLY_BYTES, space, socket.MSG_CMSG_CLOEXEC
                )
                pidfds = [
                    fd for level, kind, payload in ancillary for fd in _fds(level, kind, payload)
                ]
                if not data:
                    _close_fds(pidfds)
                    break
                self._dispatch(json.loads(data), pidfds)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            _log.error("spawn_server_broken", error=repr(exc))  # a message it should not send
        finally:
            self._server_gone()

    def _dispatch(self, message: dict[str, Any], pidfds: list[int]) -> None:
        op = message.get("op")
        if op == "exited":
            with self._lock:
                child = self._children.pop(int(message["pid"]), None)
            if child is not None:
                os.close(child.pidfd)
                _post(child.loop, child.exited, result=int(message["returncode"]))
            return
        with self._lock:
            request = self._requests.pop(int(message["id"]))
            if op == "started":
                pid, pidfd = int(message["pid"]), pidfds[0]
                if request.abandoned:
                    self._children[pid] = None
                else:
                    self._children[pid] = _Child(request.loop, request.exited, os.dup(pidfd))
        if op == "started":
            if request.abandoned:
                kill_pidfd(pidfd)
                os.close(pidfd)
            else:
                _post(request.loop, request.started, result=(pid, pidfd))
        else:
            code, text = int(message.get("errno") or 0), str(message.get("message"))
            error = OSError(code, text) if code else OSError(text)  # errno: the exec's own class
            _post(request.loop, request.started, error=error)

    def _server_gone(self) -> None:
        """Fail what waits on the server and kill what it started: no exit status can come now."""
        with self._lock:
            self.closed = True
            requests, self._requests = self._requests, {}
            children, self._children = self._children, {}
        for request in requests.values():
            _post(request.loop, request.started, error=ChildProcessError("the spawn server exited"))
        for child in children.values():
            if child is None:
                continue
            kill_pidfd(child.pidfd)
            with contextlib.suppress(OSError):
                select.select([child.pidfd], [], [], 5.0)  # readable once the process is gone
            os.close(child.pidfd)
            _post(child.loop, child.exited, result=KILLED_WITH_SERVER)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)
        self._socket.close()
        if not self._closing:  # it died: said once, with what went with it
            _log.warning(
                "spawn_server_exited",
                pid=self.process.pid,
                returncode=self.process.returncode,
                lost=len(requests) + len(children),
            )

    def close(self) -> None:
        """End the spawn server (it kills what it started) and wait for the reader to finish."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._reader.join(10.0)


def _fds(level: int, kind: int, payload: bytes) -> list[int]:
    if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
        return []
    received = array.array("i")
    received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
    return list(received)


def _close_fds(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


_server: SpawnServerClient | None = None
_server_owner: int | None = None
_server_lock = threading.Lock()


def spawn_server() -> SpawnServerClient:
    """This process's spawn server, started on first use and again after it died."""
    global _server, _server_owner
    with _server_lock:
        if _server is None or _server.closed or _server_owner != os.getpid():
            _server = SpawnServerClient()
            _server_owner = os.getpid()
        return _server
