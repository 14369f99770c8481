"""The result cache, a table of the SQLite store (`proofgate.store.connection`).

Its one-row reads and writes run inline on the event loop's thread when the file is free (see
`InlineConnection`), the rest on aiosqlite's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiosqlite

from proofgate.config import Settings
from proofgate.exceptions import StoreError
from proofgate.models import Pins, Submission, Verdict, canonical_sha256
from proofgate.store.connection import InlineConnection, StoreFile, connect, disconnect

__all__ = ["CacheStats", "ResultCache", "cache_key"]

_INSERT = (
    "INSERT OR REPLACE INTO results (key, status, verdict, created_at, hits) VALUES (?, ?, ?, ?, 0)"
)
#: Cache writes between two checkpoints of the write-ahead log (the inline connection never
#: checkpoints on its own, so that no write on the event loop's thread waits on an fsync).
CHECKPOINT_EVERY = 256

#: Bumped when the key's layout changes, so old entries can never be read under a new meaning.
#: 2: the key names its tenant (issue 23): a format-1 entry may hold a verdict a pooled worker of
#: another tenant decided, so none of them is read any more.
_KEY_FORMAT = 2


def cache_key(
    submission: Submission,
    pins: Pins,
    *,
    allowed_axioms: Sequence[str],
    checker_version: str,
    options: Mapping[str, object] | None = None,
    tenant: str | None = None,
) -> str:
    """The key under which a verdict may be reused: everything a deterministic verdict depends on.

    `allowed_axioms` is the effective allowlist (server default plus the submission's own);
    `options` holds any further server setting that can change a verdict (e.g. the heartbeat cap);
    `tenant` names whose entry it is, None for one every tenant may read (`CheckerService`).
    """
    payload = {
        "format": _KEY_FORMAT,
        "tenant": tenant,
        "content": submission.content_hash(),
        "pins": pins.model_dump(mode="json"),
        "policy": submission.policy,
        "allowed_axioms": sorted(set(allowed_axioms)),
        "checker": checker_version,
        "options": dict(options or {}),
    }
    return canonical_sha256(payload)


@dataclass(frozen=True)
class CacheStats:
    """What the cache holds, and how it served this process."""

    enabled: bool
    path: str
    entries: int
    by_status: dict[str, int]
    size_bytes: int
    hits: int  # lookups answered from the cache in this process
    misses: int  # lookups not answered in this process

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class ResultCache:
    """Deterministic verdicts by `cache_key`; a hit comes back with `cached=True`.

    Disabled (`enabled=False`), every lookup misses and nothing is written or created.
    """

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self.file = StoreFile(path)
        self._connection: aiosqlite.Connection | None = None
        self._inline: InlineConnection | None = None
        self._writes = 0  # since the last checkpoint
        self._checkpoint: asyncio.Task[None] | None = None
        self._hits = 0
        self._misses = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ResultCache:
        return cls(settings.cache_path, enabled=settings.cache_enabled)

    async def open(self) -> None:
        if self.enabled and self._connection is None:
            self._connection = await connect(self.path)
            try:
                self._inline = InlineConnection(self.path)
                self.file.pin()
            except (sqlite3.Error, StoreError) as exc:
                await self.close()
                raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    async def close(self) -> None:
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        if self._checkpoint is not None:
            with contextlib.suppress(StoreError):
                await self._checkpoint
            self._checkpoint = None
        connection, self._connection = self._connection, None
        await disconnect(connection, self.path)

    async def __aenter__(self) -> ResultCache:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _require(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise StoreError("the result cache is not open: call `await cache.open()` first")
        return self._connection

    async def _fetch(self, key: str) -> str | None:
        """The stored document under `key`, counting its use; None when absent or disabled."""
        if not self.enabled:
            return None
        connection = self._require()
        select = "SELECT verdict FROM results WHERE key = ?"
        row: tuple[object, ...] | sqlite3.Row | None
        try:
            try:
                row = self._inline_connection().one(select, (key,))
            except sqlite3.OperationalError:  # busy: wait for it on aiosqlite's thread
                row = next(iter(await connection.execute_fetchall(select, (key,))), None)
            if row is not None:
                await self._write("UPDATE results SET hits = hits + 1 WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise StoreError(f"result cache lookup failed ({self.path}): {exc}") from exc
        return None if row is None else str(row[0])

    def _inline_connection(self) -> InlineConnection:
        if self._inline is None:
            raise StoreError("the result cache is not open: call `await cache.open()` first")
        return self._inline

    async def _write(self, sql: str, parameters: tuple[object, ...]) -> None:
        """One statement, committed: inline if the file is free, else on aiosqlite's thread
        (which waits for the lock). Every `CHECKPOINT_EVERY` writes, a checkpoint on that thread.
        Refused (`StoreError`) once the file was deleted or replaced under the open store."""
        self.file.require_intact()
        try:
            self._inline_connection().write(sql, parameters)
        except sqlite3.OperationalError:
            connection = self._require()
            await connection.execute(sql, parameters)
            await connection.commit()
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY and (
            self._checkpoint is None or self._checkpoint.done()
        ):
            self._writes = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_wal())

    async def _checkpoint_wal(self) -> None:
        """Copy the write-ahead log into the file (PASSIVE: never waits for readers or writers)."""
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, ValueError) as exc:  # ValueError: closed meanwhile
            raise StoreError(f"result cache checkpoint failed ({self.path}): {exc}") from exc

    async def get(self, key: str) -> Verdict | None:
        """The stored verdict for `key`, marked cached, or None."""
        document = await self._fetch(key)
        verdict = None
        if document is not None:
            # One written by an incompatible version is absent; the next put replaces it.
            with contextlib.suppress(ValueError):
                verdict = Verdict.model_validate_json(document)
        if verdict is None:
            self._misses += 1
            return None
        self._hits += 1
        return verdict.model_copy(update={"cached": True})

    async def put(self, key: str, verdict: Verdict) -> None:
        """Store `verdict` under `key` if it is deterministic; anything else is ignored."""
        if not self.enabled or not verdict.status.is_deterministic:
            return
        stored = verdict.model_copy(update={"cached": False}).model_dump_json()
        try:
            await self._write(_INSERT, (key, verdict.status.value, stored, time.time()))
        except sqlite3.Error as exc:
            raise StoreError(f"result cache write failed ({self.path}): {exc}") from exc

    async def get_document(self, key: str) -> str | None:
        """The JSON document `put_document` stored under `key` (e.g. a triage result), or None.

        Counts as a lookup, like `get`; the caller validates the document (a miss if it cannot)."""
        document = await self._fetch(key)
        if document is None:
            self._misses += 1
        else:
            self._hits += 1
        return document

    async def put_document(self, key: str, kind: str, document: str) -> None:
        """Store a deterministic JSON result other than a verdict under `key`; `kind` (e.g.
        `triage`) is what `stats().by_status` counts it as. The caller decides it is cacheable."""
        if not self.enabled:
            return
        try:
            await self._write(_INSERT, (key, kind, document, time.time()))
        except sqlite3.Error as exc:
            raise StoreError(f"result cache write failed ({self.path}): {exc}") from exc

    async def purge(self) -> int:
        """Delete every stored verdict; returns how many there were."""
        if self._connection is None and not self.path.exists():
            return 0
        opened_here = self._connection is None
        if not opened_here:
            self.file.require_intact()
        connection = self._connection or await connect(self.path)
        try:
            cursor = await connection.execute("DELETE FROM results")
            removed = cursor.rowcount
            await cursor.close()
            await connection.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"result cache purge failed ({self.path}): {exc}") from exc
        finally:
            if opened_here:
                await disconnect(connection, self.path)
        return max(removed, 0)

    async def stats(self) -> CacheStats:
        """Entries by status and the file's size; reads the file even when lookups are disabled."""
        entries = 0
        by_status: dict[str, int] = {}
        if self._connection is not None or self.path.exists():
            opened_here = self._connection is None
            connection = self._connection or await connect(self.path)
            try:
                rows = await connection.execute_fetchall(
                    "SELECT status, COUNT(*) FROM results GROUP BY status ORDER BY status"
                )
            except sqlite3.Error as exc:
                raise StoreError(f"result cache stats failed ({self.path}): {exc}") from exc
            finally:
                if opened_here:
                    await disconnect(connection, self.path)
            by_status = {str(status): int(count) for status, count in rows}
            entries = sum(by_status.values())
        size = 0
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                size += candidate.stat().st_size
        return CacheStats(
            enabled=self.enabled,
            path=str(self.path),
            entries=entries,
            by_status=by_status,
            size_bytes=size,
            hits=self._hits,
            misses=self._misses,
        )
