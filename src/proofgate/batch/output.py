"""The results file of a batch: append-only, one JSON record a line, durable line by line.

Each record is written whole, flushed and fsynced before the next, so a crash loses at most the
line being written. On resume a torn last line (no newline, or not JSON) is cut off, the ids
already present are skipped, and the file is only ever appended to: nothing is written twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from proofgate.batch.input import BatchRecord
from proofgate.exceptions import ConfigError

__all__ = ["ResultsFile", "read_records"]


def _complete_lines(data: bytes) -> tuple[list[bytes], int]:
    """The complete, parseable lines of `data`, and the byte length they span.

    Only the last line may be torn; a bad line before it means the file was edited (or is not a
    results file), which a resume must not silently paper over.
    """
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last write was torn
    good_end = len(data) - len(tail)
    kept: list[bytes] = []
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            json.loads(raw)
        except ValueError:
            if index == len(lines) - 1 and not tail:
                # the last newline-terminated line is torn: cut it as well
                return kept, good_end - len(raw) - 1
            raise ConfigError(
                f"line {index + 1} of the results file is not JSON and is not the last line: "
                "the file was edited; fix or remove that line, then resume"
            ) from None
        kept.append(raw)
    return kept, good_end


def read_records(path: Path) -> list[BatchRecord]:
    """Every complete record of a results file (a torn last line is ignored)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the results file {path}: {exc}") from exc
    lines, _ = _complete_lines(data)
    records = []
    for raw in lines:
        try:
            records.append(BatchRecord.model_validate_json(raw))
        except ValueError as exc:
            raise ConfigError(f"{path} holds a line that is not a batch record: {exc}") from exc
    return records


class ResultsFile:
    """The output of one run, opened for appending after recovering what an earlier run wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        self.torn_bytes = 0  # bytes of a torn last line cut off on open
        self._fd: int | None = None

    def open(self) -> ResultsFile:
        """Cut a torn tail, learn the ids already written, and open for appending."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot open the results file {self.path}: {exc}") from exc
        try:
            data = _read_all(fd)
            lines, good_end = _complete_lines(data)
            for raw in lines:
                value = json.loads(raw)
                item_id = value.get("id") if isinstance(value, dict) else None
                if not isinstance(item_id, str):
                    raise ConfigError(f"{self.path} holds a record without an `id`: {raw[:80]!r}")
                self.done.add(item_id)
            if good_end < len(data):
                self.torn_bytes = len(data) - good_end
                os.ftruncate(fd, good_end)
                os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot recover the results file {self.path}: {exc}") from exc
        except ConfigError:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def write(self, record: BatchRecord) -> None:
        """Append one record durably; a second record for an id already written is a bug."""
        if self._fd is None:
            raise RuntimeError("ResultsFile.write before open()")
        if record.id in self.done:
            raise RuntimeError(f"record for {record.id!r} written twice")
        data = (record.to_line() + "\n").encode("utf-8")
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as exc:
            raise ConfigError(f"cannot write to the results file {self.path}: {exc}") from exc
        self.done.add(record.id)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultsFile:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
