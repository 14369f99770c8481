"""`proofgate keys create|list|revoke`, and the serve command's binding rule that reads the keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proofgate.cli import app
from proofgate.cli.server import check_binding
from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.store.keys import KeyStore, hash_token

runner = CliRunner()


def keys_file() -> Path:
    path = Settings().api_keys_file  # under PROOFGATE_DATA_DIR in tmp (tests/conftest.py)
    assert path is not None
    return path


def test_create_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    done = runner.invoke(app, ["keys", "create", "ci", "--rate", "30/min", "--concurrency", "4"])
    assert done.exit_code == 0, done.output
    token = done.stdout.strip()
    assert token.startswith("pg_") and "\n" not in token
    stored = KeyStore(keys_file()).keys()
    assert len(stored) == 1 and stored[0].token_sha256 == hash_token(token)
    assert (stored[0].rate_per_minute, stored[0].concurrency) == (30, 4)
    assert token not in keys_file().read_text()
    listed = runner.invoke(app, ["keys", "list", "--json"])
    assert listed.exit_code == 0
    assert token not in listed.stdout and hash_token(token) not in listed.stdout
    entry = json.loads(listed.stdout)[0]
    assert entry["name"] == "ci" and entry["revoked_at"] is None and entry["concurrency"] == 4


def test_list_and_revoke(tmp_path: Path) -> None:
    assert "no API keys" in runner.invoke(app, ["keys", "list"]).output
    runner.invoke(app, ["keys", "create", "a"])
    runner.invoke(app, ["keys", "create", "b"])
    revoked = runner.invoke(app, ["keys", "revoke", "a"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    table = runner.invoke(app, ["keys", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "revoked" in table.stdout and "active" in table.stdout
    assert [k.name for k in KeyStore(keys_file()).active_keys()] == ["b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "x", "--rate", "lots"], "60/min"),
        (["keys", "create", "bad name"], "not a key name"),
        (["keys", "revoke", "nobody"], "no API key named"),
    ],
)
def test_mistakes_exit_2_and_say_what_to_do(args: list[str], message: str) -> None:
    done = runner.invoke(app, args)
    assert done.exit_code == 2
    assert message in done.output


def test_a_duplicate_name_is_refused() -> None:
    assert runner.invoke(app, ["keys", "create", "dup"]).exit_code == 0
    again = runner.invoke(app, ["keys", "create", "dup"])
    assert again.exit_code == 2 and "exists already" in again.output


def test_binding_needs_an_active_key_off_loopback(tmp_path: Path) -> None:
    settings = Settings(host="0.0.0.0")
    with pytest.raises(ConfigError, match="keys create"):
        check_binding(settings)
    store = KeyStore(keys_file())
    store.create("only")
    check_binding(settings)  # an active key: allowed
    store.revoke("only")
    with pytest.raises(ConfigError):
        check_binding(settings)  # only revoked keys: as good as none
    check_binding(Settings(host="127.0.0.1"))
    check_binding(Settings(host="0.0.0.0", allow_unauthenticated=True))
