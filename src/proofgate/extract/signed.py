"""Signed results: verdicts `extract` may take without checking again.

A signed results file is JSONL, one signed record a line, each as `proofgate export` builds it
(`proofgate.reports.record.build_record`: format `proofgate-report/1`, the submission, its verdict
and pins, an HMAC-SHA256 signature by the report key). `proofgate extract INPUT.jsonl
--signed-results FILE` writes one for the submissions it checked. A results file is taken only when
every line carries a valid signature of this installation's report key: a batch RESULTS.jsonl (no
signature), a record edited after signing, or one signed with another key is refused, naming its
line, before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.models import Submission, Verdict
from proofgate.models.validation import json_object
from proofgate.reports.record import FORMAT, build_record, record_submission, record_verdict
from proofgate.reports.signing import ReportKey, verify

__all__ = ["CheckedItem", "is_results_file", "read_signed_results", "signed_line"]

#: Keys an input line of submissions never has, and a results record always has one of.
_RESULT_KEYS = frozenset({"verdict", "format", "signature"})


@dataclass(frozen=True)
class CheckedItem:
    """An item whose verdict is known: from a signed record, or checked in this run."""

    id: str
    line: int
    submission: Submission
    verdict: Verdict


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def is_results_file(path: Path) -> bool:
    """Whether `path` holds results (verdicts, signed or not) rather than submissions: read from
    its first non-blank line."""
    for _, line in _lines(path)[:1]:
        try:
            value = json.loads(line)
        except ValueError:
            return False
        return isinstance(value, dict) and bool(_RESULT_KEYS & value.keys())
    return False


def _refusal(value: dict[str, Any], key: ReportKey) -> str | None:
    """Why a line's record cannot be taken, or None when it is a valid signed record."""
    if value.get("format") != FORMAT:
        if "verdict" in value and "signature" not in value:
            return (
                "a results record without a signature: extract takes results only when each "
                "record is signed (write them with `proofgate extract INPUT.jsonl "
                "--signed-results FILE`), or give the submissions themselves to check them again"
            )
        return f"not a signed proofgate record (format {FORMAT})"
    check = verify(value, key)
    if check == "missing":
        return "the record has no signature: only signed records are taken"
    if check == "unknown_key":
        signature = value.get("signature") or {}
        return (
            f"signed with another key (key id {signature.get('key_id')}, this installation's is "
            f"{key.key_id}): configure the signing key (PROOFGATE_REPORT_KEY) or check again"
        )
    if check == "invalid":
        return "its signature does not match its content: the record was changed after signing"
    return None


def read_signed_results(path: Path, key: ReportKey) -> list[CheckedItem]:
    """Every record of `path`, each signature checked first; `ConfigError` naming the first line
    that is not a valid signed record (nothing is taken from a file with one)."""
    items: list[CheckedItem] = []
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        where = f"{path}, line {number}"
        value = json_object(line, where, hint="write one record a line")
        refusal = _refusal(value, key)
        if refusal is not None:
            raise ConfigError(f"{where}: refused: {refusal}")
        try:
            submission, verdict = record_submission(value), record_verdict(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        item_id = str(value.get("item_id") or f"line:{number}")
        if item_id in seen:
            raise ConfigError(
                f"{where}: duplicate item_id {item_id!r} (first on line {seen[item_id]})"
            )
        seen[item_id] = number
        items.append(CheckedItem(item_id, number, submission, verdict))
    return items


def signed_line(item: CheckedItem, settings: Settings, key: ReportKey) -> str:
    """`item`'s signed record as one JSON line (no newline); `ConfigError` when its verdict cannot
    be signed (it carries no pins)."""
    record = build_record(item.submission, item.verdict, settings, key, item_id=item.id)
    return json.dumps(record, sort_keys=True, ensure_ascii=False)
