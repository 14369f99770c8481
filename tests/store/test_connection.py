"""Closing the store: both tables' owners turn a failed close into the same `StoreError`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proofgate.exceptions import StoreError
from proofgate.store.connection import disconnect
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
