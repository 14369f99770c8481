"""A signed results file is refused at a line that is not one JSON object, named by its number."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofgate.exceptions import ConfigError
from proofgate.extract.signed import read_signed_results
from proofgate.reports.signing import ReportKey


@pytest.mark.parametrize(("line", "reason"), [("[1, 2]", "object;"), ('{"id": ', "(Expecting")])
def test_a_line_that_is_not_a_json_object_is_refused_by_its_number(
    tmp_path: Path, line: str, reason: str
) -> None:
    results = tmp_path / "signed.jsonl"
    results.write_text("\n" + line + "\n")  # a blank first line: the refused one is line 2
    with pytest.raises(ConfigError) as raised:
        read_signed_results(results, ReportKey(b"k" * 40, "test"))
    message = str(raised.value)
    assert message.startswith(f"{results}, line 2: not a JSON object")
    assert reason in message and message.endswith("; write one record a line")
