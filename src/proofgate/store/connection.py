"""The SQLite store's file: one under the data directory, WAL, async access, versioned.

The file is versioned by a `schema_version` table and grows by appending to `MIGRATIONS`, so later
tables (batch jobs, API keys) join the same file without touching what is there. Every `sqlite3`
error is turned into `StoreError` where it enters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import aiosqlite

from proofgate.exceptions import StoreError

__all__ = ["MIGRATIONS", "InlineConnection", "StoreFile", "connect", "disconnect"]


#: Schema migrations, applied in order; entry i brings the file from version i to i + 1.
#: Append only: never edit an entry that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE results (
        key TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        verdict TEXT NOT NULL,
        created_at REAL NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX results_status ON results (status);
    """,
    # 2: batch jobs (proofgate.jobs): one row a job, one a submission; `result` is the item's
    # answer as JSON (`{"verdict": ...}` or `{"error": ...}`), NULL until it is done.
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        key_name TEXT,
        total INTEGER NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        reason TEXT NOT NULL DEFAULT '',
        resumed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_status ON jobs (status);
    CREATE TABLE job_items (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        client_id TEXT,
        submission TEXT,
        outcome TEXT,
        result TEXT,
        finished_at REAL,
        PRIMARY KEY (job_id, idx)
    );
    CREATE INDEX job_items_open ON job_items (job_id, outcome);
    """,
    # 3: a job belongs to a tenant (`proofgate.models.tenant`), no longer to a key name. A job
    # made before has no known tenant: under a key, `legacy-key:NAME` (its key name still sees
    # it, as before); without one, `anonymous`.
    """
    ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'anonymous';
    UPDATE jobs SET tenant = 'legacy-key:' || key_name WHERE key_name IS NOT NULL;
    """,
]


async def connect(path: Path) -> aiosqlite.Connection:
    """Open (creating if needed) the store at `path` in WAL mode, with every migration applied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc}; check PROOFGATE_DATA_DIR") from exc
    connection: aiosqlite.Connection | None = None
    try:
        await asyncio.to_thread(_migrate, path)
        connection = await aiosqlite.connect(path, timeout=10.0)
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA busy_timeout=10000")
    except BaseException as exc:
        if connection is not None:
            await connection.close()
        if not isinstance(exc, (sqlite3.Error, OSError)):
            raise
        raise StoreError(
            f"cannot open the store at {path}: {exc}; move the file aside or run "
            "`proofgate cache purge`"
        ) from exc
    return connection


async def disconnect(connection: aiosqlite.Connection | None, path: Path) -> None:
    """Close a connection to the store at `path` (None: there is none to close)."""
    if connection is None:
        return
    try:
        await connection.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot close the store at {path}: {exc}") from exc


def _enter_wal(db: sqlite3.Connection, *, deadline: float) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another connection holds the file: two first
    opens of a new file can each hold a shared lock and want an exclusive one, and SQLite then
    answers one of them "database is locked" at once instead of calling its busy handler."""
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _migrate(path: Path) -> None:
    """WAL mode, then every missing migration in one IMMEDIATE transaction: the version is read
    under the write lock, so processes opening a new file at once apply each migration once, and
    a crash midway leaves the file as it was."""
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        _enter_wal(db, deadline=time.monotonic() + 10.0)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            (current,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            ).fetchone()
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"the store has schema version {current}, newer than this proofgate knows "
                    f"({len(MIGRATIONS)}): upgrade proofgate or use another PROOFGATE_DATA_DIR"
                )
            for version in range(current, len(MIGRATIONS)):
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of `script`, split where SQLite itself says a statement is complete."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        raise StoreError(f"an incomplete statement ends a migration: {statement.strip()[:80]!r}")


class StoreFile:
    """Whether the store's path still names the file this process opened (same device and inode).

    SQLite keeps reading and writing a file deleted or replaced under an open connection: every
    later write would go to a file no one will open again, and be lost at the next start. `problem`
    says so (each tick and each `/readyz`); `require_intact` refuses the write instead."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: tuple[int, int] | None = None

    def pin(self) -> None:
        """Remember the file the path names now: call it once the store is open."""
        try:
            found = os.stat(self.path)
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}; check PROOFGATE_DATA_DIR") from exc
        self._opened = (found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """Why the open store can no longer be trusted with writes, or None (also when unpinned)."""
        if self._opened is None:
            return None
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            change = "was deleted"
        except OSError as exc:
            change = f"cannot be read ({exc})"
        else:
            if (found.st_dev, found.st_ino) == self._opened:
                return None
            change = "was replaced by another file"
        return (
            f"the store file {self.path} {change} while this process had it open: writes are "
            "refused (they would be lost); restart proofgate to open the file at that path"
        )

    def require_intact(self) -> None:
        """`StoreError` with the reason when the file is gone or replaced (before any write)."""
        problem = self.problem()
        if problem is not None:
            raise StoreError(problem)


class InlineConnection:
    """A second connection to the store, used on the event loop's own thread for the cache's
    one-row reads and writes. A trip to aiosqlite's thread wakes the loop twice; a primary-key read,
    or a one-row write in WAL mode (no fsync under synchronous=NORMAL), takes tens of microseconds.
    It never waits for a lock (busy timeout 0): `sqlite3.OperationalError` tells the caller to take
    the aiosqlite path, which may wait. It never checkpoints; `ResultCache` does, on that thread."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=0, isolation_level=None)  # autocommit
        try:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            self._db.close()
            raise

    def one(self, sql: str, parameters: tuple[object, ...]) -> tuple[object, ...] | None:
        """The first row of a primary-key lookup; read to the end, so no read stays open."""
        rows: list[tuple[object, ...]] = self._db.execute(sql, parameters).fetchall()
        return rows[0] if rows else None

    def write(self, sql: str, parameters: tuple[object, ...]) -> None:
        self._db.execute(sql, parameters)

    def close(self) -> None:
        self._db.close()
