"""API keys: kept hashed in one JSON file (`settings.api_keys_file`), read by the server and the CLI.

A token is `pg_` plus 32 random bytes (URL-safe base64); only its SHA-256 is stored, so the file
leaks nothing a client could present. The token is shown once, when `proofgate keys create` makes
it. Each key may carry a rate (submissions a minute) and a concurrency limit (requests at once).

The file is replaced atomically (write a sibling, `os.replace`) under an advisory lock, so a
`keys create` next to a running server never leaves it half-written; the server rereads it when
its identity (inode, size, mtime) changes, so a revoked key stops working at the next request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from proofgate.exceptions import ConfigError, StoreError

__all__ = ["TOKEN_PREFIX", "ApiKey", "KeyMatch", "KeyStore", "hash_token", "parse_rate"]

TOKEN_PREFIX = "pg_"
_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_PER_MINUTE = {
    None: 1.0,
    "s": 60.0,
    "sec": 60.0,
    "second": 60.0,
    "m": 1.0,
    "min": 1.0,
    "minute": 1.0,
    "h": 1 / 60,
    "hour": 1 / 60,
}


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256, hex (a salt adds nothing to a 256-bit random token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_rate(text: str) -> float:
    """`60/min`, `2/s`, `600/h` or a bare number (per minute) as submissions a minute."""
    match = _RATE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"not a rate: {text!r}; write it as `60/min`, `2/s` or `600/h`")
    return float(match.group(1)) * _PER_MINUTE[match.group(2)]


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: never the token itself."""

    name: str
    token_sha256: str
    prefix: str  # the token's first characters, to recognise it in a list
    created_at: float
    revoked_at: float | None = None
    rate_per_minute: float | None = None
    concurrency: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ApiKey:
        known = {field: data[field] for field in cls.__dataclass_fields__ if field in data}
        return cls(**known)  # type: ignore[arg-type]  # shapes checked by the file's format


@dataclass(frozen=True)
class KeyMatch:
    """What a presented token turned out to be: no key, a live key, or a revoked one."""

    key: ApiKey | None

    @property
    def revoked(self) -> bool:
        return self.key is not None and not self.key.active


class KeyStore:
    """The keys file. Reads are cached until the file changes; writes are atomic and locked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int, int] | None = None
        self._keys: list[ApiKey] = []

    # --- reading -------------------------------------------------------------------------

    def keys(self) -> list[ApiKey]:
        """Every key (revoked ones too), reread if the file changed since the last call."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._identity, self._keys = None, []
            return []
        except OSError as exc:
            raise StoreError(f"cannot read the API keys file {self.path}: {exc}") from exc
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if identity != self._identity:
            self._keys = self._load()
            self._identity = identity
        return list(self._keys)

    def active_keys(self) -> list[ApiKey]:
        return [key for key in self.keys() if key.active]

    def match(self, token: str) -> KeyMatch:
        """The key `token` belongs to. Every stored hash is compared in constant time."""
        presented = hash_token(token)
        found: ApiKey | None = None
        for key in self.keys():
            if hmac.compare_digest(presented, key.token_sha256):
                found = key
        return KeyMatch(found)

    def _load(self) -> list[ApiKey]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot read the API keys file {self.path}: {exc}; fix or remove it, then "
                "recreate keys with `proofgate keys create NAME`"
            ) from exc
        entries = data.get("keys", []) if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise StoreError(f"{self.path} is not a proofgate keys file (no `keys` list)")
        try:
            return [ApiKey.from_json(entry) for entry in entries]
        except TypeError as exc:
            raise StoreError(f"{self.path} has a malformed key entry: {exc}") from exc

    # --- writing -------------------------------------------------------------------------

    def create(
        self, name: str, *, rate_per_minute: float | None = None, concurrency: int | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its token (shown once: only its hash is kept)."""
        if not _NAME.match(name):
            raise ConfigError(
                f"not a key name: {name!r}; use letters, digits and `_.@-` (at most 64)"
            )
        if rate_per_minute is not None and rate_per_minute <= 0:
            raise ConfigError("the rate must be positive")
        if concurrency is not None and concurrency < 1:
            raise ConfigError("the concurrency limit must be at least 1")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            name=name,
            token_sha256=hash_token(token),
            prefix=token[: len(TOKEN_PREFIX) + 6],
            created_at=time.time(),
            rate_per_minute=rate_per_minute,
            concurrency=concurrency,
        )
        with self._locked():
            keys = self._load() if self.path.exists() else []
            if any(existing.name == name for existing in keys):
                raise ConfigError(
                    f"a key named {name!r} exists already: pick another name, or revoke it "
                    "and create one under a new name"
                )
            self._write([*keys, key])
        return key, token

    def revoke(self, name: str) -> ApiKey:
        """Mark `name` revoked (kept in the file, so its token answers 403, not 401)."""
        with self._locked():
            keys = self._load() if self.path.exists() else []
            for position, key in enumerate(keys):
                if key.name == name:
                    if not key.active:
                        return key
                    revoked = replace(key, revoked_at=time.time())
                    keys[position] = revoked
                    self._write(keys)
                    return revoked
        known = ", ".join(key.name for key in keys) or "none"
        raise ConfigError(f"no API key named {name!r} (keys: {known}); see `proofgate keys list`")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock_path, "a")  # noqa: SIM115  # held for the whole block
        except OSError as exc:
            raise StoreError(f"cannot lock the API keys file {self.path}: {exc}") from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, keys: list[ApiKey]) -> None:
        payload = {"format": _FORMAT, "keys": [key.to_json() for key in keys]}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise StoreError(f"cannot write the API keys file {self.path}: {exc}") from exc
