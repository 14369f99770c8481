"""Resumable record files (store/lines.py): a torn last line cut, an edited earlier one refused,
appends durable; used by a batch's results and an audit's records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofgate.batch.output import ResultsFile
from proofgate.exceptions import ConfigError
from proofgate.store.lines import LinesFile


def number(raw: bytes) -> int:
    value = json.loads(raw)
    if not isinstance(value, dict) or not isinstance(value.get("n"), int):
        raise ValueError("not a number record")
    return int(value["n"])


def numbers(path: Path) -> LinesFile[int]:
    return LinesFile(path, number, what="the test's records")


def test_records_survive_a_reopen_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "records.jsonl"
    first = numbers(path)
    assert first.open() == []
    first.append('{"n": 1}')
    first.append('{"n": 2}')
    first.close()
    with path.open("a") as stream:
        stream.write('{"n": 3')  # the write a crash cut short
    second = numbers(path)
    assert second.open() == [1, 2] and second.torn_bytes == len('{"n": 3')
    second.append('{"n": 3}')
    second.close()
    assert numbers(path).open() == [1, 2, 3]


def test_an_unreadable_line_before_the_last_is_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text('{"n": 1}\n{"x": 2}\n{"n": 3}\n')
    with pytest.raises(ConfigError, match=r"line 2 of the test's records .* edited"):
        numbers(path).open()
    assert path.read_text().count("\n") == 3  # nothing was cut


def test_a_complete_record_without_an_id_is_refused_even_last(tmp_path: Path) -> None:
    # valid JSON is no torn write: the results file refuses it wherever it stands
    path = tmp_path / "results.jsonl"
    path.write_text('{"line": 1}\n')
    with pytest.raises(ConfigError, match="without an `id`"):
        ResultsFile(path).open()
    assert path.read_text() == '{"line": 1}\n'


def test_append_before_open_is_a_bug(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="before open"):
        numbers(tmp_path / "r.jsonl").append('{"n": 1}')
