from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proofgate.exceptions import StoreError
from proofgate.models import Pins, Submission, Verdict, VerdictStatus
from proofgate.store.connection import MIGRATIONS, connect
from proofgate.store.results import ResultCache, cache_key

PINS = Pins(lean="v4.32.0", mathlib="81a5d25", repl="v4.32.0", proofgate="0.1.0", checker="1")
AXIOMS = ["propext", "Classical.choice", "Quot.sound"]


def _key(submission: Submission, **changes: object) -> str:
    arguments: dict[str, object] = {"allowed_axioms": AXIOMS, "checker_version": "checker-1"}
    pins = changes.pop("pins", PINS)
    arguments.update(changes)
    return cache_key(submission, pins, **arguments)  # type: ignore[arg-type]


def _verdict(status: VerdictStatus = VerdictStatus.proved) -> Verdict:
    return Verdict(
        status=status, kind="check", target="t", reason="ok", content_hash="abc", pins=PINS
    )


SUBMISSION = Submission(statement="theorem t : 1 = 1 := sorry", proof="by rfl")


def test_key_is_stable_and_ignores_the_timeout() -> None:
    again = Submission(statement="theorem t : 1 = 1 := sorry", proof="by rfl", timeout=5)
    assert _key(SUBMISSION) == _key(again)
    assert len(_key(SUBMISSION)) == 64
    assert _key(SUBMISSION, allowed_axioms=list(reversed(AXIOMS))) == _key(SUBMISSION)


@pytest.mark.parametrize(
    "change",
    [
        {"pins": PINS.model_copy(update={"mathlib": "other"})},
        {"pins": PINS.model_copy(update={"environment": "other"})},
        {"allowed_axioms": [*AXIOMS, "Lean.ofReduceBool"]},
        {"checker_version": "checker-2"},
        {"options": {"heartbeat_cap": 5}},
    ],
)
def test_key_changes_with_everything_a_verdict_depends_on(change: dict[str, object]) -> None:
    assert _key(SUBMISSION, **change) != _key(SUBMISSION)


def test_key_changes_with_the_submission_and_its_policy() -> None:
    other_proof = Submission(statement="theorem t : 1 = 1 := sorry", proof="by simp")
    permissive = Submission(
        statement="theorem t : 1 = 1 := sorry", proof="by rfl", policy="permissive"
    )
    keys = {_key(SUBMISSION), _key(other_proof), _key(permissive)}
    assert len(keys) == 3


async def test_hit_is_marked_cached_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    async with ResultCache(path) as cache:
        assert await cache.get("k") is None
        await cache.put("k", _verdict())
        hit = await cache.get("k")
        assert hit is not None and hit.cached and hit.status is VerdictStatus.proved
    async with ResultCache(path) as reopened:
        hit = await reopened.get("k")
        assert hit is not None and hit.cached
        assert hit.model_dump(exclude={"cached"}) == _verdict().model_dump(exclude={"cached"})
        stats = await reopened.stats()
        assert stats.entries == 1 and stats.hits == 1 and stats.misses == 0


@pytest.mark.parametrize(
    "status", [VerdictStatus.timeout, VerdictStatus.out_of_memory, VerdictStatus.internal]
)
async def test_non_deterministic_verdicts_are_never_stored(
    tmp_path: Path, status: VerdictStatus
) -> None:
    async with ResultCache(tmp_path / "c.sqlite3") as cache:
        await cache.put("k", _verdict(status))
        assert await cache.get("k") is None
        assert (await cache.stats()).entries == 0


async def test_every_deterministic_status_is_stored(tmp_path: Path) -> None:
    async with ResultCache(tmp_path / "c.sqlite3") as cache:
        deterministic = [s for s in VerdictStatus if s.is_deterministic]
        for status in deterministic:
            await cache.put(status.value, _verdict(status))
        stats = await cache.stats()
        assert stats.entries == len(deterministic)
        assert stats.by_status == {s.value: 1 for s in deterministic}


async def test_a_stored_cached_flag_is_not_trusted(tmp_path: Path) -> None:
    async with ResultCache(tmp_path / "c.sqlite3") as cache:
        await cache.put("k", _verdict().model_copy(update={"cached": True}))
        raw = (
            sqlite3.connect(tmp_path / "c.sqlite3")
            .execute("SELECT verdict FROM results")
            .fetchone()
        )
        assert '"cached":false' in raw[0]


async def test_disabled_cache_stores_nothing_and_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    async with ResultCache(path, enabled=False) as cache:
        await cache.put("k", _verdict())
        assert await cache.get("k") is None
    assert not path.exists()


async def test_purge_counts_and_empties(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    async with ResultCache(path) as cache:
        for key in ("a", "b", "c"):
            await cache.put(key, _verdict())
    # purge works on a closed cache too (what `proofgate cache purge` does)
    assert await ResultCache(path).purge() == 3
    async with ResultCache(path) as cache:
        assert await cache.get("a") is None
        assert await cache.purge() == 0


async def test_purge_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    assert await ResultCache(path).purge() == 0
    assert not path.exists()


async def test_file_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    connection = await connect(path)
    await connection.close()
    connection = await connect(path)  # reopening applies nothing twice
    await connection.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [
        (v + 1,) for v in range(len(MIGRATIONS))
    ]


async def test_a_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        await ResultCache(path).open()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    connection = await connect(path)
    await connection.execute("INSERT INTO schema_version (version) VALUES (999)")
    await connection.commit()
    await connection.close()
    with pytest.raises(StoreError, match="newer than this proofgate"):
        await connect(path)


async def test_use_before_open_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not open"):
        await ResultCache(tmp_path / "c.sqlite3").get("k")


async def test_an_unreadable_row_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    async with ResultCache(path) as cache:
        await cache.put("k", _verdict())
    raw = sqlite3.connect(path)
    raw.execute('UPDATE results SET verdict = \'{"status": "nonsense"}\'')
    raw.commit()
    raw.close()
    async with ResultCache(path) as cache:
        assert await cache.get("k") is None


async def test_a_write_while_another_process_holds_the_lock_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    """The inline connection never waits for a lock; the write then goes to aiosqlite's thread,
    which waits until the other writer commits."""
    import asyncio

    path = tmp_path / "cache.sqlite"
    async with ResultCache(path) as cache:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock, as a batch job writing could
        other.execute("INSERT INTO results VALUES ('held', 'proved', '{}', 0, 0)")
        write = asyncio.ensure_future(cache.put("k", _verdict()))
        await asyncio.sleep(0.3)
        assert not write.done()  # waiting for the lock, not failed
        other.execute("COMMIT")
        await asyncio.wait_for(write, 10)
        assert (await cache.get("k")) is not None
        other.close()


async def test_the_write_ahead_log_is_checkpointed_as_writes_go_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline connection never checkpoints; the cache does every `CHECKPOINT_EVERY` writes,
    so the log restarts instead of growing with every verdict ever written."""
    monkeypatch.setattr("proofgate.store.results.CHECKPOINT_EVERY", 10)
    path = tmp_path / "cache.sqlite"
    wal = Path(str(path) + "-wal")
    big = _verdict().model_copy(update={"reason": "x" * 8000})  # two or three pages a row
    async with ResultCache(path) as cache:
        for index in range(200):
            await cache.put(f"k{index}", big)
            if cache._checkpoint is not None:
                await cache._checkpoint
        # 200 rows of ~8 KB never checkpointed would leave a log of over 1.6 MB.
        assert wal.stat().st_size < 400_000
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM results").fetchone() == (200,)


def test_processes_opening_a_new_file_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    """The schema version is read under the write lock: concurrent first opens never both
    migrate (which would fail on `CREATE TABLE results` for the second)."""
    import asyncio
    import threading

    path = tmp_path / "fresh.sqlite"
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_once() -> None:
        async def run() -> None:
            connection = await connect(path)
            await connection.close()

        start.wait()
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_once) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY version")
    assert [row[0] for row in versions] == list(range(1, len(MIGRATIONS) + 1))


def test_a_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    path = tmp_path / "cache.sqlite"
    monkeypatch.setattr(
        "proofgate.store.connection.MIGRATIONS", [*MIGRATIONS, "CREATE TABLE broken (x);\nNOT SQL;"]
    )
    with pytest.raises(StoreError):
        asyncio.run(connect(path))
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "results" not in tables and "broken" not in tables  # all or nothing
