"""The results file of a batch: append-only, one JSON record a line, durable line by line.

Each record is written whole, flushed and fsynced before the next, so a crash loses at most the
line being written. On resume a torn last line (no newline, or not JSON) is cut off, the ids
already present are skipped, and the file is only ever appended to: nothing is written twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from proofgate.batch.input import BatchRecord
from proofgate.exceptions import ConfigError
from proofgate.store.lines import LinesFile, complete_lines

__all__ = ["ResultsFile", "read_records"]


def _json_line(raw: bytes) -> bytes:
    """`raw`, once it is JSON (ValueError if not: torn when it is the last line)."""
    json.loads(raw)
    return raw


def _item_id(raw: bytes) -> str:
    """A results line's `id`; JSON without one is an edit wherever it stands (ConfigError)."""
    value = json.loads(raw)
    item_id = value.get("id") if isinstance(value, dict) else None
    if not isinstance(item_id, str):
        raise ConfigError(f"the results file holds a record without an `id`: {raw[:80]!r}")
    return item_id


def read_records(path: Path) -> list[BatchRecord]:
    """Every complete record of a results file (a torn last line is ignored)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the results file {path}: {exc}") from exc
    lines, _ = complete_lines(data, _json_line, what=f"the results file {path}")
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
        self._file = LinesFile(path, _item_id, what="the results file")

    @property
    def torn_bytes(self) -> int:
        """Bytes of a torn last line cut off on open."""
        return self._file.torn_bytes

    def open(self) -> ResultsFile:
        """Cut a torn tail, learn the ids already written, and open for appending."""
        self.done.update(self._file.open())
        return self

    def write(self, record: BatchRecord) -> None:
        """Append one record durably; a second record for an id already written is a bug."""
        if record.id in self.done:
            raise RuntimeError(f"record for {record.id!r} written twice")
        self._file.append(record.to_line())
        self.done.add(record.id)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsFile:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
