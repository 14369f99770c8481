"""A child the spawn server started, as the service holds it: pid, pidfd, pipes, exit status.

Made by `proofgate.sandbox.spawn_client`; the spawners wrap it (`PipedProcess`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import BinaryIO

__all__ = ["SpawnedProcess", "kill_pidfd"]


def kill_pidfd(pidfd: int) -> None:
    """SIGKILL the process behind `pidfd` (never one that reused its pid); quiet if it is gone."""
    with contextlib.suppress(OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


class SpawnedProcess:
    """A child the spawn server started: its pid, pipes and exit status, as `asyncio.subprocess`
    gives them (`wait` returns at the exit, whatever holds the pipes)."""

    def __init__(
        self,
        pid: int,
        pidfd: int,
        exited: asyncio.Future[int],
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._pidfd: int | None = pidfd
        self._exited = exited
        exited.add_done_callback(self._on_exit)

    @classmethod
    async def connect(
        cls,
        pid: int,
        pidfd: int,
        exited: asyncio.Future[int],
        stdin_fd: int,
        stdout_fd: int,
        stderr_fd: int,
        stream_limit: int,
    ) -> SpawnedProcess:
        loop = asyncio.get_running_loop()
        # Each file is closed by the transport it is handed to; until then, by the except below.
        stdin_file, stdout_file, stderr_file = (
            open(stdin_fd, "wb", buffering=0),  # noqa: SIM115
            open(stdout_fd, "rb", buffering=0),  # noqa: SIM115
            open(stderr_fd, "rb", buffering=0),  # noqa: SIM115
        )
        try:
            stdout = await _read_pipe(loop, stdout_file, stream_limit)
            stderr = await _read_pipe(loop, stderr_file, stream_limit)
            transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.streams.FlowControlMixin(loop=loop), stdin_file
            )
        except BaseException:
            for pipe in (stdin_file, stdout_file, stderr_file):
                pipe.close()
            kill_pidfd(pidfd)
            os.close(pidfd)
            raise
        stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return cls(pid, pidfd, exited, stdin, stdout, stderr)

    @property
    def returncode(self) -> int | None:
        if self._exited.done() and not self._exited.cancelled():
            return self._exited.result()
        return None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, signum: int) -> None:
        """Signal the child (never another process that reused its pid)."""
        if self._pidfd is None:
            raise ProcessLookupError(f"process {self.pid} has exited")
        signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _on_exit(self, _: asyncio.Future[int]) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


async def _read_pipe(
    loop: asyncio.AbstractEventLoop, pipe: BinaryIO, limit: int
) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    return reader
