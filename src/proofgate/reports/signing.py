"""The key that signs reproducible reports, and HMAC-SHA256 over a record's canonical JSON.

The key is the `report_key` setting (PROOFGATE_REPORT_KEY) or, unset, a random key made on first
use in DATA_DIR/report.key with mode 0600. HMAC means only a holder of the key can check a
signature: a report is verified where it was signed, or wherever that key is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from proofgate.config import Settings
from proofgate.exceptions import ConfigError

__all__ = ["ALGORITHM", "ReportKey", "canonical_json", "load_report_key", "sign", "verify"]

ALGORITHM = "HMAC-SHA256"
KEY_FILE = "report.key"
SignatureCheck = Literal["valid", "invalid", "unknown_key", "missing"]


@dataclass(frozen=True)
class ReportKey:
    """A signing key and its public id (a hash: it names the key without revealing it)."""

    secret: bytes = b""
    source: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"ReportKey(id={self.key_id}, source={self.source})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"proofgate-report-key\0" + self.secret).hexdigest()[:16]


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the report key {path} is readable by others: run `chmod 600 {path}`"
            )
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the report key {path}: {exc}") from exc
    if len(secret) < 32:
        raise ConfigError(f"the report key {path} is too short: delete it to make a new one")
    return secret


def load_report_key(settings: Settings) -> ReportKey:
    """The configured key, or the key file in the data directory (made now if missing)."""
    if settings.report_key:
        return ReportKey(settings.report_key.encode("utf-8"), "PROOFGATE_REPORT_KEY")
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process just now: read theirs
        except OSError as exc:
            raise ConfigError(
                f"cannot create the report key {path}: {exc}; set PROOFGATE_REPORT_KEY or "
                "PROOFGATE_DATA_DIR"
            ) from exc
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32) + "\n")
    return ReportKey(_read_key_file(path), str(path))


def canonical_json(value: Any) -> bytes:
    """The bytes a signature covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(body: dict[str, Any], key: ReportKey) -> str:
    """The HMAC-SHA256 of `body`'s canonical JSON under `key`, in hex: a signature's value."""
    return hmac.new(key.secret, canonical_json(body), hashlib.sha256).hexdigest()


def sign(body: dict[str, Any], key: ReportKey) -> dict[str, str]:
    """The signature object of `body` (which must not hold one itself)."""
    return {"algorithm": ALGORITHM, "key_id": key.key_id, "value": _mac(body, key)}


def verify(record: dict[str, Any], key: ReportKey) -> SignatureCheck:
    """Whether `record`'s signature is this key's over the rest of the record."""
    signature = record.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return "missing"
    if signature.get("algorithm") != ALGORITHM:
        return "invalid"
    if signature.get("key_id") != key.key_id:
        return "unknown_key"
    body = {name: value for name, value in record.items() if name != "signature"}
    return "valid" if hmac.compare_digest(_mac(body, key), signature["value"]) else "invalid"
