"""A store whose file is deleted or replaced under it says so and refuses writes (never loses
them into a file no one will open again)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from proofgate.exceptions import StoreError
from proofgate.models import Verdict, VerdictStatus
from proofgate.models.jobs import ItemError
from proofgate.store.jobs import JobStore, PreparedItem
from proofgate.store.results import ResultCache


def _delete(path: Path) -> None:
    path.unlink()


def _replace(path: Path) -> None:
    other = path.with_name("other.sqlite3")
    sqlite3.connect(other).close()
    os.replace(other, path)


def _item(name: str) -> PreparedItem:
    return PreparedItem(name, None, ItemError(error="validation", message="stands in"))


CHANGES: dict[str, Callable[[Path], None]] = {"deleted": _delete, "replaced": _replace}


@pytest.mark.parametrize("change", CHANGES)
async def test_the_job_store_refuses_writes_once_its_file_changed(
    tmp_path: Path, change: str
) -> None:
    path = tmp_path / "store.sqlite3"
    store = JobStore(path)
    await store.open()
    try:
        assert store.file.problem() is None
        await store.create([_item("a")], key_name=None)  # writes while intact
        inode = path.stat().st_ino
        CHANGES[change](path)
        assert not path.exists() or path.stat().st_ino != inode  # the change happened
        problem = store.file.problem()
        assert problem is not None and f"{path} was {change}" in problem
        with pytest.raises(StoreError, match=f"was {change}.*writes are refused"):
            await store.create([_item("b")], key_name=None)
    finally:
        await store.close()


@pytest.mark.parametrize("change", CHANGES)
async def test_the_result_cache_refuses_writes_once_its_file_changed(
    tmp_path: Path, change: str
) -> None:
    path = tmp_path / "store.sqlite3"
    verdict = Verdict(status=VerdictStatus.rejected, kind="check")
    async with ResultCache(path) as cache:
        await cache.put("k1", verdict)
        CHANGES[change](path)
        assert cache.file.problem() is not None
        with pytest.raises(StoreError, match=f"was {change}"):
            await cache.put("k2", verdict)
        with pytest.raises(StoreError, match=f"was {change}"):
            await cache.purge()


async def test_a_file_moved_back_is_trusted_again(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    async with ResultCache(path) as cache:
        aside = tmp_path / "aside.sqlite3"
        path.rename(aside)
        assert cache.file.problem() is not None
        aside.rename(path)
        assert cache.file.problem() is None
        await cache.put("k", Verdict(status=VerdictStatus.rejected, kind="check"))
