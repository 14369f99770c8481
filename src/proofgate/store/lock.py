"""One owner a data directory: an exclusive `flock` on `DATA_DIR/proofgate.lock`, held for the
owner's life, with the holder's pid written in it.

`proofgate serve` holds it, so two servers never run one job store (both would resume the same
jobs); each Ray actor holds one of `DATA_DIR/actors/<n>`. The commands that only read or tidy the
store (`keys`, `cache stats`, `cache purge`, a local `check`) take no lock: SQLite's own locking
serves them beside a running server. The lock goes with the process (the kernel drops it when the
file is closed, at exit or a crash), so a stale file never blocks a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from proofgate.exceptions import StoreError

__all__ = ["LOCK_FILE", "DataDirLock", "claim_data_dir"]

LOCK_FILE = "proofgate.lock"

#: How long to wait for a holder that has the lock but has not written its pid yet.
_PID_WAIT_SECONDS = 1.0


class DataDirLock:
    """The exclusive lock on one data directory; `acquire` raises `StoreError` naming the holder's
    pid when another process has it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        busy, holder = self._try_acquire()
        if busy:
            who = f"pid {holder}" if holder is not None else "a process that gave no pid"
            raise StoreError(
                f"the data directory {self.data_dir} is in use by another proofgate ({who}, "
                f"lock {self.path}): stop that process, or give this one another "
                "PROOFGATE_DATA_DIR"
            )

    def _try_acquire(self) -> tuple[bool, int | None]:
        """(False, None) once locked here; (True, the holder's pid if it wrote one) when another
        process holds the lock; `StoreError` when the file cannot be opened, locked or written."""
        if self._fd is not None:
            return False, None
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            return True, holder
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {self.path}: {exc}; check PROOFGATE_DATA_DIR") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)  # closing drops the lock
            raise StoreError(f"cannot write {self.path}: {exc}; check PROOFGATE_DATA_DIR") from exc
        self._fd = fd
        return False, None

    def release(self) -> None:
        """Give the directory up (the pid is cleared first, so none is named after we let go)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def _open(self) -> int:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # not inherited: a REPL or compile the server spawns never holds the lock
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc}; check PROOFGATE_DATA_DIR") from exc

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    """The pid in the lock file; a holder that has just taken the lock may not have written it."""
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        except OSError:
            return None
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def claim_data_dir(parent: Path, *, limit: int = 4096) -> DataDirLock:
    """The first of `parent/0`, `parent/1`, ... no other process holds, locked for the caller: a
    data directory of its own that a later owner of the same slot reuses (its cache stays warm)."""
    for number in range(limit):
        lock = DataDirLock(parent / str(number))
        busy, _ = lock._try_acquire()
        if not busy:
            return lock
    raise StoreError(f"every one of {limit} data directories under {parent} is in use")
