"""Reading a long-lived child's pipes: its stdout cut into size-capped frames, its stderr kept as
a bounded tail, the tasks that read them and watch its exit, settled once it is killed.

The REPL driver (`proofgate.lean.repl`, frames ended by a blank line) and the warm checkers
(`proofgate.verify.checkers`, one line a frame) read an untrusted child this way; what a fault
means (the worker killed, the checker condemned) stays with them. A zygote's child has raw pipe
ends instead (`proofgate.lean.zygote`): `read_capped` and `write_all` serve those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from typing import Any

from proofgate.sandbox.process import ManagedProcess

__all__ = [
    "READ_CHUNK",
    "ChildReaders",
    "FrameTooLarge",
    "Frames",
    "StderrTail",
    "read_capped",
    "wait_ready",
    "write_all",
]

#: How much one read of a pipe asks for.
READ_CHUNK = 1 << 16


class FrameTooLarge(Exception):
    """A frame passed its cap before it ended; `discarded` bytes were dropped with it."""

    def __init__(self, limit: int, discarded: int) -> None:
        super().__init__(f"a frame passed {limit} bytes unfinished")
        self.limit = limit
        self.discarded = discarded


class Frames:
    """Cuts what a child prints into frames, each ended by `separator` (not part of the frame).
    A frame counts its own bytes only: what follows its end is handed back, never counted."""

    def __init__(self, separator: bytes, max_bytes: int) -> None:
        self.separator = separator
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> tuple[bytes, bytes] | None:
        """(the frame `chunk` ends, the rest of `chunk` after it), or None while no frame ended.
        A frame longer than `max_bytes` raises `FrameTooLarge`, and what was kept is dropped."""
        # a separator may straddle two chunks: look again at the last bytes already kept
        scan_from = max(0, len(self._buffer) - len(self.separator) + 1)
        self._buffer += chunk
        end = self._buffer.find(self.separator, scan_from)
        if (len(self._buffer) if end < 0 else end) > self.max_bytes:
            discarded = len(self._buffer)
            self._buffer.clear()
            raise FrameTooLarge(self.max_bytes, discarded)
        if end < 0:
            return None
        frame, rest = bytes(self._buffer[:end]), bytes(self._buffer[end + len(self.separator) :])
        self._buffer.clear()
        return frame, rest


class StderrTail:
    """The last `limit` bytes a child wrote to a stream, and how many it wrote in all. Draining
    the stream to its end keeps the child from blocking on a full pipe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._tail = bytearray()

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            self.total += len(chunk)
            self._tail += chunk
            if len(self._tail) > self.limit:
                del self._tail[: len(self._tail) - self.limit]

    def text(self) -> str:
        return self._tail.decode("utf-8", errors="replace")


class ChildReaders:
    """The tasks that follow one child for its life: `read_stdout()` on its stdout, its stderr
    drained into a bounded tail (`stderr`), and `watch_exit()`, which sees it end. The tasks are
    named `NAME-stdout`, `NAME-stderr` and `NAME-exit`."""

    def __init__(
        self,
        process: ManagedProcess,
        *,
        name: str,
        stderr_limit: int,
        read_stdout: Callable[[], Coroutine[Any, Any, None]],
        watch_exit: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.process = process
        self.stderr = StderrTail(stderr_limit)
        self.stdout_task = loop.create_task(read_stdout(), name=f"{name}-stdout")
        self.stderr_task = loop.create_task(
            self.stderr.drain(process.stderr), name=f"{name}-stderr"
        )
        self.exit_task = loop.create_task(watch_exit(), name=f"{name}-exit")

    async def last_words(self, timeout: float) -> None:
        """Wait up to `timeout` for both pipes to be read to their end (after an exit)."""
        await asyncio.wait({self.stdout_task, self.stderr_task}, timeout=timeout)

    async def reap(self, *, readers_timeout: float, exit_timeout: float) -> None:
        """After the child was killed: give the tasks `readers_timeout` seconds, cancel the ones
        still running, and take every task's outcome (a reader's own error is already its
        owner's failure; taking it keeps asyncio from logging it). Then wait up to
        `exit_timeout` for the exit: until asyncio has seen it, it cannot close the subprocess
        transport."""
        tasks = {self.stdout_task, self.stderr_task, self.exit_task}
        _, pending = await asyncio.wait(tasks, timeout=readers_timeout)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.wait(), exit_timeout)


# --- raw non-blocking pipe ends (a zygote child's, which are no asyncio transports) -------


async def read_capped(loop: asyncio.AbstractEventLoop, fd: int, cap: int) -> tuple[bytes, bool]:
    """Everything `fd` gives until its end, or the first `cap` bytes and True if it gives more."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            await wait_ready(loop, fd, write=False)
            continue
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], True


async def write_all(loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> bool:
    """Write `data` to `fd`; False if the child closed its end before all of it was written."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await wait_ready(loop, fd, write=True)
        except BrokenPipeError:
            return False
    return True


async def wait_ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    """Until the non-blocking `fd` can be written (`write`) or read."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if write else loop.add_reader)(fd, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)
