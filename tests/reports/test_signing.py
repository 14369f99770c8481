"""The report key: made once with mode 0600, or taken from the setting; HMAC over the record."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.reports.signing import ALGORITHM, ReportKey, load_report_key, sign, verify


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **extra)


def test_the_key_file_is_made_on_first_use_with_mode_0600_and_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_report_key(settings)
    path = settings.data_dir / "report.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_report_key(settings).secret == first.secret and len(first.secret) >= 32
    assert first.secret.decode() not in repr(first)


def test_the_setting_wins_over_the_file(tmp_path: Path) -> None:
    key = load_report_key(_settings(tmp_path, report_key="s" * 40))
    assert key.secret == b"s" * 40 and key.source == "PROOFGATE_REPORT_KEY"
    assert not (tmp_path / "data" / "report.key").exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_report_key(settings)
    (settings.data_dir / "report.key").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_report_key(settings)


def test_signatures_detect_edits_and_other_keys(tmp_path: Path) -> None:
    key = load_report_key(_settings(tmp_path / "a"))
    other = load_report_key(_settings(tmp_path / "b"))
    body = {"verdict": {"status": "failed"}, "n": [1, 2]}
    record = {**body, "signature": sign(body, key)}
    assert verify(record, key) == "valid"
    assert verify(record, other) == "unknown_key"
    assert verify({**record, "n": [1, 3]}, key) == "invalid"
    assert verify(body, key) == "missing"
    forged = {**record, "signature": {**record["signature"], "value": "0" * 64}}
    assert verify(forged, key) == "invalid"


def test_a_signature_is_the_hmac_sha256_of_the_canonical_body() -> None:
    """One MAC for signing and checking: a record signed elsewhere with the same key and rule
    verifies here (the value is fixed by the key and the sorted, compact UTF-8 JSON)."""
    key = ReportKey(secret=b"k" * 32)
    body = {"b": "é", "a": 1}
    value = hmac.new(b"k" * 32, '{"a":1,"b":"é"}'.encode(), hashlib.sha256).hexdigest()
    assert sign(body, key)["value"] == value
    outside = {**body, "signature": {"algorithm": ALGORITHM, "key_id": key.key_id, "value": value}}
    assert verify(outside, key) == "valid"
