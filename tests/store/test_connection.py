"""Opening and closing the store: the journal-mode switch outwaits a lock; both tables' owners turn a
failed close into the same `StoreError`."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from proofgate.exceptions import StoreError
from proofgate.store.connection import _enter_wal, disconnect
from proofgate.store.jobs import JobStore
from proofgate.store.results import ResultCache


class _FailingClose:
    """Stands in for an aiosqlite connection whose close fails (a disk gone mid-run)."""

    async def close(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")


async def test_disconnect_of_no_connection_does_nothing(tmp_path: Path) -> None:
    await disconnect(None, tmp_path / "store.sqlite3")


@pytest.mark.parametrize("owner", [JobStore, ResultCache])
async def test_a_failed_close_is_a_store_error_naming_the_file(
    tmp_path: Path, owner: type[JobStore] | type[ResultCache]
) -> None:
    path = tmp_path / "store.sqlite3"
    store = owner(path)
    await store.open()
    opened = store._connection
    assert opened is not None
    store._connection = _FailingClose()  # type: ignore[assignment]  # the stand-in is enough
    try:
        with pytest.raises(StoreError, match=r"^cannot close the store at .*store\.sqlite3: disk"):
            await store.close()
        assert store._connection is None  # a failed close still leaves the store closed
    finally:
        await opened.close()


class _LockedAtFirst:
    """A connection whose journal-mode switch meets a lock `times` times (as two first opens of a
    new file can), then succeeds."""

    def __init__(self, times: int, error: str = "database is locked") -> None:
        self.left = times
        self.error = error
        self.calls = 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise sqlite3.OperationalError(self.error)


def test_entering_wal_is_retried_while_the_file_is_locked() -> None:
    db = _LockedAtFirst(times=3)
    _enter_wal(db, deadline=time.monotonic() + 60)  # type: ignore[arg-type]
    assert db.calls == 4


def test_entering_wal_gives_up_at_the_deadline_and_on_other_errors() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _enter_wal(_LockedAtFirst(times=10**9), deadline=time.monotonic())  # type: ignore[arg-type]
    other = _LockedAtFirst(times=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        _enter_wal(other, deadline=time.monotonic() + 60)  # type: ignore[arg-type]
    assert other.calls == 1
