"""Reading a batch's input: every line becomes one item or one error record, ids stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofgate.batch.input import BatchItem, BatchRecord, header_key, read_items
from proofgate.exceptions import ConfigError
from proofgate.models import Submission

STATEMENT = "import Mathlib.Tactic\n\ntheorem t : 1 + 1 = 2 := by sorry\n"


def _read(tmp_path: Path, *lines: str) -> list[BatchItem | BatchRecord]:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list(read_items(path))


def test_good_lines_are_items_with_their_line_numbers(tmp_path: Path) -> None:
    got = _read(
        tmp_path,
        json.dumps({"id": "a", "statement": STATEMENT, "proof": "by norm_num"}),
        "",
        json.dumps({"id": 7, "code": "theorem x : True := trivial", "policy": "permissive"}),
    )
    assert [type(entry) for entry in got] == [BatchItem, BatchItem]
    first, second = got
    assert isinstance(first, BatchItem) and isinstance(second, BatchItem)
    assert (first.id, first.line, first.submission.proof) == ("a", 1, "by norm_num")
    assert (second.id, second.line, second.submission.policy) == ("7", 3, "permissive")


@pytest.mark.parametrize(
    ("line", "item_id", "field", "words"),
    [
        ('{"id": "a", "code": ', "line:1", None, "not a JSON object"),
        ("[1, 2]", "line:1", None, "not a JSON object"),
        ('{"code": "x"}', "line:1", "id", "missing `id`"),
        ('{"id": true, "code": "x"}', "line:1", "id", "non-empty string"),
        ('{"id": "line:9", "code": "x"}', "line:1", "id", "reserved"),
        ('{"id": "a", "proof": "rfl"}', "a", None, "give `code`"),
        ('{"id": "a", "code": "x", "model": "m"}', "a", "model", "unknown field"),
        ('{"id": "a", "code": "x", "environment": "a b"}', "a", "environment", "pattern"),
        ('{"id": "a", "code": "x", "timeout": -1}', "a", "timeout", "greater than 0"),
    ],
)
def test_a_bad_line_is_an_error_record_naming_line_and_field(
    tmp_path: Path, line: str, item_id: str, field: str | None, words: str
) -> None:
    [record] = _read(tmp_path, line)
    assert isinstance(record, BatchRecord) and record.error is not None
    assert record.id == item_id and record.error.kind == "input" and record.error.line == 1
    assert record.error.field == field
    assert words in record.error.message
    assert record.attempts == 0 and record.verdict is None


def test_a_duplicate_id_gets_the_line_id_and_names_the_first(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "code": "x"})
    first, second = _read(tmp_path, good, good)
    assert isinstance(first, BatchItem) and first.id == "a"
    assert isinstance(second, BatchRecord) and second.id == "line:2"
    assert second.error is not None and "first on line 1" in second.error.message


def test_an_unreadable_input_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the batch input"):
        list(read_items(tmp_path / "missing.jsonl"))


def test_header_key_is_environment_and_the_pools_header() -> None:
    code = "import Mathlib.Tactic\nimport Aesop\nopen Nat\ntheorem x : True := trivial\n"
    assert header_key(Submission(code=code)) == ("default", "import Mathlib.Tactic\nimport Aesop")
    locked = Submission(statement=STATEMENT, proof="by norm_num", environment="other")
    assert header_key(locked) == ("other", "import Mathlib.Tactic")
    assert header_key(Submission(code="theorem x : True := trivial")) == ("default", "")


def test_header_key_keeps_import_modifiers_apart_and_ignores_layout() -> None:
    def key(code: str) -> tuple[str, str]:
        return header_key(Submission(code=code + "\ntheorem x : True := trivial"))

    assert key("import all Mathlib.Tactic") != key("import Mathlib.Tactic")
    assert key("import  Mathlib.Tactic -- the tactics") == key("import Mathlib.Tactic")
