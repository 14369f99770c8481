"""The results file of a batch: append-only, one JSON record a line, durable line by line.

Each record is written whole, flushed and fsynced before the next, so a crash loses at most the
line being written. On resume a torn last line (no newline, or not JSON) is cut off, the
(id, environment) pairs already present are skipped, and the file is only ever appended to:
nothing is written twice.

Every record names its format (`RESULTS_FORMAT`). This version appends only to a file of its own
format: a format-1 file (records without `format`, one per id, no environment) is refused on
resume, since its records cannot be told apart by environment; `read_records` still reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from proofgate.batch.input import RESULTS_FORMAT, BatchRecord
from proofgate.exceptions import ConfigError
from proofgate.store.lines import LinesFile, complete_lines

__all__ = ["RecordKey", "ResultsFile", "read_records"]

#: What a results file holds at most one record of: (item id, environment).
RecordKey = tuple[str, str]


def _json_line(raw: bytes) -> bytes:
    """`raw`, once it is JSON (ValueError if not: torn when it is the last line)."""
    json.loads(raw)
    return raw


def _record_key(raw: bytes, path: Path) -> RecordKey:
    """A results line's (id, environment); JSON without an id, or of another format than this
    version writes, is refused wherever it stands (ConfigError)."""
    value = json.loads(raw)
    item_id = value.get("id") if isinstance(value, dict) else None
    if not isinstance(item_id, str):
        raise ConfigError(f"the results file holds a record without an `id`: {raw[:80]!r}")
    written_as = value.get("format")
    if written_as is None:
        raise ConfigError(
            f"{path} is a results file of format 1 (one record per id, without its environment), "
            f"written by an older proofgate; this one writes {RESULTS_FORMAT} (one record per "
            "item and environment) and does not append to it: give a new --out file "
            "(`proofgate report` still reads the old one)"
        )
    if written_as != RESULTS_FORMAT:
        raise ConfigError(
            f"{path} holds a record of format {written_as!r}, not {RESULTS_FORMAT}: it was written "
            "by another proofgate version; give a new --out file"
        )
    environment = value.get("environment")
    if not isinstance(environment, str):
        raise ConfigError(
            f"the results file holds a record without its `environment`: {raw[:80]!r}"
        )
    return item_id, environment


def read_records(path: Path) -> list[BatchRecord]:
    """Every complete record of a results file, of any format (a torn last line is ignored)."""
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
        self.done: set[RecordKey] = set()
        self._file = LinesFile(path, lambda raw: _record_key(raw, path), what="the results file")

    @property
    def torn_bytes(self) -> int:
        """Bytes of a torn last line cut off on open."""
        return self._file.torn_bytes

    def open(self) -> ResultsFile:
        """Cut a torn tail, learn the pairs already written, and open for appending."""
        self.done.update(self._file.open())
        return self

    def write(self, record: BatchRecord) -> None:
        """Append one record durably, stamped with this format; a second record for a pair
        already written, or one without its environment, is a bug."""
        if record.environment is None:
            raise RuntimeError(f"record for {record.id!r} names no environment")
        key = (record.id, record.environment)
        if key in self.done:
            raise RuntimeError(f"record for {record.id!r} in {record.environment!r} written twice")
        self._file.append(record.model_copy(update={"format": RESULTS_FORMAT}).to_line())
        self.done.add(key)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsFile:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
