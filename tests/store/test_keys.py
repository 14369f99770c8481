"""API keys (proofgate.store.keys): hashed storage, create/revoke, matching, reloads, rates."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from proofgate.exceptions import ConfigError, StoreError
from proofgate.store.keys import TOKEN_PREFIX, KeyStore, hash_token, parse_rate


def test_only_the_hash_is_stored_and_the_token_matches(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, token = store.create("ci", rate_per_minute=60, concurrency=2)
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    text = store.path.read_text()
    assert token not in text and hash_token(token) in text
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.match(token).key == key and not store.match(token).revoked
    assert store.match(token + "x").key is None
    assert key.prefix == token[: len(TOKEN_PREFIX) + 6]
    assert (key.rate_per_minute, key.concurrency) == (60, 2)


def test_tokens_are_unique_and_names_too(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    _, first = store.create("a")
    _, second = store.create("b")
    assert first != second
    with pytest.raises(ConfigError, match="exists already"):
        store.create("a")
    with pytest.raises(ConfigError, match="not a key name"):
        store.create("has space")


def test_revoked_keys_stay_known_so_they_can_be_told_apart(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    _, token = store.create("gone")
    store.create("kept")
    revoked = store.revoke("gone")
    assert revoked.revoked_at is not None
    assert store.match(token).revoked
    assert [key.name for key in store.active_keys()] == ["kept"]
    assert store.revoke("gone").revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(ConfigError, match="no API key named 'nope'"):
        store.revoke("nope")


def test_a_reader_sees_changes_made_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    reader = KeyStore(path)
    assert reader.keys() == []
    _, token = KeyStore(path).create("late")
    assert reader.match(token).key is not None
    KeyStore(path).revoke("late")
    assert reader.match(token).revoked


def test_a_broken_file_is_a_store_error_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match="keys create"):
        KeyStore(path).keys()
    path.write_text(json.dumps({"keys": "no"}))
    with pytest.raises(StoreError, match="not a proofgate keys file"):
        KeyStore(path).keys()


@pytest.mark.parametrize(
    ("text", "per_minute"),
    [("60/min", 60.0), ("2/s", 120.0), ("600/h", 10.0), ("30", 30.0), ("0.5/minute", 0.5)],
)
def test_rates(text: str, per_minute: float) -> None:
    assert parse_rate(text) == pytest.approx(per_minute)


@pytest.mark.parametrize("text", ["", "fast", "0/min", "5/day", "-1"])
def test_bad_rates_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigError, match="60/min"):
        parse_rate(text)
