"""The results file: durable appends, a torn last line cut on resume, edits refused, one record
per (id, environment), each stamped with the format, and a file of another format refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofgate.batch.input import RESULTS_FORMAT, BatchRecord, ItemError
from proofgate.batch.output import ResultsFile, read_records
from proofgate.exceptions import ConfigError


def _record(item_id: str, environment: str | None = "default") -> BatchRecord:
    error = ItemError(kind="input", line=1, message="bad")
    return BatchRecord(id=item_id, environment=environment, line=1, error=error, attempts=0)


def test_records_are_appended_and_known_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a"))
        results.write(_record("b"))
    with ResultsFile(path) as results:
        assert results.done == {("a", "default"), ("b", "default")} and results.torn_bytes == 0
        results.write(_record("c"))
    assert [r.id for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_each_record_says_its_format_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a", "lean_v4_9_0"))
    line = json.loads(path.read_text())
    assert line["format"] == RESULTS_FORMAT == "proofgate-batch/2"
    assert line["environment"] == "lean_v4_9_0"
    (record,) = read_records(path)
    assert (record.format, record.environment) == (RESULTS_FORMAT, "lean_v4_9_0")


def test_one_record_per_pair_not_per_id(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a", "default"))
        results.write(_record("a", "lean_v4_9_0"))  # the same id elsewhere: its own record
        with pytest.raises(RuntimeError, match="written twice"):
            results.write(_record("a", "lean_v4_9_0"))
        with pytest.raises(RuntimeError, match="names no environment"):
            results.write(_record("b", None))
    with ResultsFile(path) as results:
        assert results.done == {("a", "default"), ("a", "lean_v4_9_0")}


def test_a_format_1_file_is_refused_on_resume_and_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    old = [_record("a", None), _record("b", None)]  # as an older proofgate wrote them
    text = "".join(record.to_line() + "\n" for record in old)
    assert '"format"' not in text and '"environment"' not in text
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"format 1 .* does not append to it: give a new --out"):
        ResultsFile(path).open()
    assert path.read_text() == text  # nothing cut, nothing appended
    assert [(r.id, r.format, r.environment) for r in read_records(path)] == [
        ("a", None, None),
        ("b", None, None),
    ]


def test_a_record_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = json.loads(_record("a").to_line())
    path.write_text(json.dumps({**line, "format": "proofgate-batch/3"}) + "\n")
    with pytest.raises(ConfigError, match="'proofgate-batch/3', not proofgate-batch/2"):
        ResultsFile(path).open()


@pytest.mark.parametrize("torn", ['{"id": "c", "line": 1, "err', '{"id": "c"', "{\n"])
def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path, torn: str) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a"))
    intact = path.read_bytes()
    with path.open("a") as stream:
        stream.write(torn)
    with ResultsFile(path) as results:
        assert results.done == {("a", "default")}
        assert results.torn_bytes == len(torn.encode())
        assert path.read_bytes() == intact
        results.write(_record("b"))
    assert [r.id for r in read_records(path)] == ["a", "b"]


def test_a_bad_line_before_the_last_is_an_edit_not_a_tear(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a"))
    with path.open("a") as stream:
        stream.write("not json\n" + _record("b").to_line() + "\n")
    with pytest.raises(ConfigError, match=r"line 2 .* was edited"):
        ResultsFile(path).open()
    assert "not json" in path.read_text()  # nothing was cut
