"""Append-only files of one record a line that a run resumes from (a batch's results, an audit's
records): each line is written whole and fsynced before the next, so a crash loses at most the
line being written. On open a torn last line (no newline, or not a record) is cut off; a bad line
before it means the file was edited (or is not this command's), which a resume must not paper
over."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from proofgate.exceptions import ConfigError

__all__ = ["LinesFile", "complete_lines"]

T = TypeVar("T")


def complete_lines(data: bytes, parse: Callable[[bytes], T], *, what: str) -> tuple[list[T], int]:
    """The records of `data`'s complete lines (blank ones skipped), and the byte length they
    span. `parse` raises ValueError for a line that is no record: the last line is then torn
    (cut), any earlier one a ConfigError naming its number."""
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last write was torn
    good_end = len(data) - len(tail)
    records: list[T] = []
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            records.append(parse(raw))
        except ValueError as exc:
            if index == len(lines) - 1 and not tail:  # the last newline-ended line is torn
                return records, good_end - len(raw) - 1
            reason = str(exc).splitlines()[0][:200]
            raise ConfigError(
                f"line {index + 1} of {what} is not a record ({reason}) and is not the last "
                "line: the file was edited or is not this command's; fix or remove that line"
            ) from None
    return records, good_end


class LinesFile(Generic[T]):
    """One such file, opened for appending after its torn tail is cut (`torn_bytes`)."""

    def __init__(self, path: Path, parse: Callable[[bytes], T], *, what: str) -> None:
        self.path = path
        self.what = what
        self._parse = parse
        self.torn_bytes = 0
        self._fd: int | None = None

    def open(self) -> list[T]:
        """The records already written; from here on `append` adds after them."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot open {self.what} {self.path}: {exc}") from exc
        try:
            data = _read_all(fd)
            records, good_end = complete_lines(data, self._parse, what=f"{self.what} {self.path}")
            if good_end < len(data):
                self.torn_bytes = len(data) - good_end
                os.ftruncate(fd, good_end)
                os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot recover {self.what} {self.path}: {exc}") from exc
        except ConfigError:
            os.close(fd)
            raise
        self._fd = fd
        return records

    def append(self, line: str) -> None:
        """Write `line` and a newline whole, and fsync, before returning."""
        if self._fd is None:
            raise RuntimeError(f"{self.what}: append before open()")
        data = (line + "\n").encode("utf-8")
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as exc:
            raise ConfigError(f"cannot write to {self.what} {self.path}: {exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
