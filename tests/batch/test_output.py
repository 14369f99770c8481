"""The results file: durable appends, a torn last line cut on resume, edits refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofgate.batch.input import BatchRecord, ItemError
from proofgate.batch.output import ResultsFile, read_records
from proofgate.exceptions import ConfigError


def _record(item_id: str) -> BatchRecord:
    error = ItemError(kind="input", line=1, message="bad")
    return BatchRecord(id=item_id, line=1, error=error, attempts=0)


def test_records_are_appended_and_known_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a"))
        results.write(_record("b"))
    with ResultsFile(path) as results:
        assert results.done == {"a", "b"} and results.torn_bytes == 0
        results.write(_record("c"))
    assert [r.id for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_a_second_record_for_an_id_is_refused(tmp_path: Path) -> None:
    with ResultsFile(tmp_path / "r.jsonl") as results:
        results.write(_record("a"))
        with pytest.raises(RuntimeError, match="written twice"):
            results.write(_record("a"))


@pytest.mark.parametrize("torn", ['{"id": "c", "line": 1, "err', '{"id": "c"', "{\n"])
def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path, torn: str) -> None:
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as results:
        results.write(_record("a"))
    intact = path.read_bytes()
    with path.open("a") as stream:
        stream.write(torn)
    with ResultsFile(path) as results:
        assert results.done == {"a"}
        assert results.torn_bytes == len(torn.encode())
        assert path.read_bytes() == intact
        results.write(_record("b"))
    assert [r.id for r in read_records(path)] == ["a", "b"]


def test_a_bad_line_before_the_last_is_an_edit_not_a_tear(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(_record("a").to_line() + "\nnot json\n" + _record("b").to_line() + "\n")
    with pytest.raises(ConfigError, match=r"line 2 .* was edited"):
        ResultsFile(path).open()
    assert "not json" in path.read_text()  # nothing was cut
