"""Each Ray actor runs on a data directory of its own (no Ray needed: the actor is a plain class)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proofgate.batch.executors.ray_cluster import CheckerActor, actor_settings
from proofgate.store.lock import LOCK_FILE


def test_actors_on_one_machine_get_distinct_locked_directories() -> None:
    base = Path(os.environ["PROOFGATE_DATA_DIR"])
    first, first_lock = actor_settings()
    second, second_lock = actor_settings()
    try:
        assert first.data_dir == base / "actors" / "0"
        assert second.data_dir == base / "actors" / "1"
        assert first.cache_path != second.cache_path
        assert (first.data_dir / LOCK_FILE).read_text().strip() == str(os.getpid())
    finally:
        first_lock.release()
        second_lock.release()


@pytest.mark.timeout(60)
async def test_a_default_actor_opens_its_store_in_its_own_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Lean: the actor starts, not ready
    base = Path(os.environ["PROOFGATE_DATA_DIR"])
    actors = [CheckerActor(), CheckerActor()]
    try:
        for actor in actors:
            await actor.start()
        assert (base / "actors" / "0" / "cache.sqlite3").exists()
        assert (base / "actors" / "1" / "cache.sqlite3").exists()
        assert not (base / "cache.sqlite3").exists()  # never the shared one
    finally:
        for actor in actors:
            await actor.close()
    again, lock = actor_settings()  # closed actors free their directories for the next ones
    lock.release()
    assert again.data_dir == base / "actors" / "0"
