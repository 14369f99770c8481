"""The job tables of the store: one row a job in `jobs`, one a submission in `job_items`
(migration 2 of `proofgate.store.connection`). An item is done when its `outcome` (a verdict
status, or `error`) and `result` are written; `proofgate.jobs` runs what is pending.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from proofgate.exceptions import StoreError
from proofgate.models import Submission
from proofgate.models.jobs import ItemError, JobCounts, JobStatus
from proofgate.models.tenant import LOCAL
from proofgate.store.connection import StoreFile, connect, disconnect

__all__ = ["JobRecord", "JobStore", "PreparedItem", "result_line"]


@dataclass(frozen=True)
class PreparedItem:
    """An item as submitted: its submission, or the error that stands for it."""

    client_id: str | None
    submission: Submission | None
    error: ItemError | None = None


@dataclass(frozen=True)
class JobRecord:
    id: str
    status: JobStatus
    key_name: str | None
    total: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    reason: str
    resumed: int
    tenant: str  # whose job it is (`proofgate.models.tenant`); its items run on its workers

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))  # read back as text

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)


def result_line(index: int, client_id: str | None, outcome: str, result: str) -> str:
    """One NDJSON line (without its newline), built around the stored JSON without reparsing it."""
    field_name = "error" if outcome == "error" else "verdict"
    identity = "" if client_id is None else f',"id":{json.dumps(client_id, ensure_ascii=False)}'
    return f'{{"index":{index}{identity},"{field_name}":{result}}}'


_JOB_COLUMNS = (
    "id, status, key_name, total, created_at, started_at, finished_at, reason, resumed, tenant"
)


class JobStore:
    """The job tables of the store file. Writes are serialised, so a job is created whole; once the
    file was deleted or replaced under the open store (`file.problem()`), they are refused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = StoreFile(path)
        self._connection: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        if self._connection is None:
            self._connection = await connect(self.path)
            try:
                self.file.pin()
            except StoreError:
                await self.close()
                raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        await disconnect(connection, self.path)

    def _db(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise StoreError("the job store is not open: call `await store.open()` first")
        return self._connection

    async def _write(
        self, statements: Sequence[tuple[str, Sequence[object] | list[Sequence[object]]]]
    ) -> None:
        """Run `statements` (a list of parameters means executemany) in one transaction."""
        db = self._db()
        async with self._write_lock:
            self.file.require_intact()
            try:
                for sql, parameters in statements:
                    if parameters and isinstance(parameters[0], (list, tuple)):
                        await db.executemany(sql, parameters)
                    else:
                        await db.execute(sql, parameters)
                await db.commit()
            except sqlite3.Error as exc:
                await db.rollback()
                raise StoreError(f"job store write failed ({self.path}): {exc}") from exc

    async def _read(self, sql: str, parameters: Sequence[object]) -> list[sqlite3.Row]:
        try:
            # One trip: a cursor kept open across awaits holds a read snapshot, and a write on this
            # connection in between then fails (SQLITE_BUSY_SNAPSHOT) once another one committed.
            return list(await self._db().execute_fetchall(sql, parameters))
        except sqlite3.Error as exc:
            raise StoreError(f"job store read failed ({self.path}): {exc}") from exc

    async def create(
        self, items: Sequence[PreparedItem], *, key_name: str | None, tenant: str = LOCAL
    ) -> JobRecord:
        now = time.time()
        job_id = uuid.uuid4().hex
        rows: list[Sequence[object]] = []
        finished = 0
        for index, item in enumerate(items):
            if item.error is not None:
                finished += 1
                rows.append(
                    (
                        job_id,
                        index,
                        item.client_id,
                        None,
                        "error",
                        item.error.model_dump_json(exclude_none=True),
                        now,
                    )
                )
            else:
                assert item.submission is not None
                submission = item.submission.model_dump_json(exclude_none=True)
                rows.append((job_id, index, item.client_id, submission, None, None, None))
        status = JobStatus.COMPLETED if finished == len(items) else JobStatus.QUEUED
        await self._write(
            [
                (
                    f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, ?, '', 0, ?)",
                    (
                        job_id,
                        status.value,
                        key_name,
                        len(items),
                        now,
                        now if status is JobStatus.COMPLETED else None,
                        tenant,
                    ),
                ),
                (
                    (
                        "INSERT INTO job_items (job_id, idx, client_id, submission, outcome, result, "
                        "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    rows,
                ),
            ]
        )
        return JobRecord(
            job_id,
            status,
            key_name,
            len(items),
            now,
            None,
            now if status is JobStatus.COMPLETED else None,
            "",
            0,
            tenant,
        )

    async def job(self, job_id: str) -> JobRecord | None:
        rows = await self._read(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return JobRecord(*rows[0]) if rows else None

    async def jobs_of(self, tenants: Sequence[str], *, offset: int, limit: int) -> list[JobRecord]:
        """The jobs of any of `tenants`, newest first, `limit` of them after skipping `offset`."""
        marks = ", ".join("?" for _ in tenants) or "NULL"
        return [
            JobRecord(*row)
            for row in await self._read(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE tenant IN ({marks}) "
                "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (*tenants, limit, offset),
            )
        ]

    async def item(self, job_id: str, index: int) -> tuple[str | None, str | None, str] | None:
        """Item `index` of a job: its client id, its submission's JSON (None for an item that was
        invalid as sent) and its result line ('' while it is pending); None if there is none."""
        rows = await self._read(
            "SELECT client_id, submission, outcome, result FROM job_items "
            "WHERE job_id = ? AND idx = ?",
            (job_id, index),
        )
        if not rows:
            return None
        client_id, submission, outcome, result = rows[0]
        line = "" if outcome is None else result_line(index, client_id, str(outcome), str(result))
        return client_id, submission, line

    async def unfinished(self) -> list[JobRecord]:
        rows = await self._read(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running') "
            "ORDER BY created_at",
            (),
        )
        return [JobRecord(*row) for row in rows]

    async def counts(self, job: JobRecord) -> JobCounts:
        rows = await self._read(
            "SELECT outcome, COUNT(*) FROM job_items WHERE job_id = ? AND outcome IS NOT NULL "
            "GROUP BY outcome",
            (job.id,),
        )
        by_outcome = {str(outcome): int(count) for outcome, count in rows}
        errors = by_outcome.pop("error", 0)
        done = errors + sum(by_outcome.values())
        return JobCounts(
            total=job.total,
            done=done,
            pending=job.total - done,
            errors=errors,
            by_status=dict(sorted(by_outcome.items())),
        )

    async def done_count(self, job_id: str) -> int:
        rows = await self._read(
            "SELECT COUNT(*) FROM job_items WHERE job_id = ? AND outcome IS NOT NULL", (job_id,)
        )
        return int(rows[0][0])

    async def results(self, job_id: str, *, start: int, end: int) -> list[tuple[int, str]]:
        """Finished items with `start <= index < end`, in index order, as result lines."""
        rows = await self._read(
            "SELECT idx, client_id, outcome, result FROM job_items WHERE job_id = ? AND "
            "outcome IS NOT NULL AND idx >= ? AND idx < ? ORDER BY idx",
            (job_id, start, end),
        )
        return [
            (int(idx), result_line(int(idx), cid, str(out), str(res)))
            for idx, cid, out, res in rows
        ]

    async def pending(
        self, job_id: str, *, after: int, limit: int
    ) -> list[tuple[int, str | None, str | None]]:
        rows = await self._read(
            "SELECT idx, client_id, submission FROM job_items WHERE job_id = ? AND outcome IS NULL "
            "AND idx >= ? ORDER BY idx LIMIT ?",
            (job_id, after, limit),
        )
        return [(int(idx), cid, sub) for idx, cid, sub in rows]

    async def finish_item(self, job_id: str, index: int, outcome: str, result: str) -> None:
        await self._write(
            [
                (
                    (
                        "UPDATE job_items SET outcome = ?, result = ?, finished_at = ? "
                        "WHERE job_id = ? AND idx = ? AND outcome IS NULL"
                    ),
                    (outcome, result, time.time(), job_id, index),
                )
            ]
        )

    async def mark_running(self, job_id: str) -> None:
        await self._write(
            [
                (
                    (
                        "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?) "
                        "WHERE id = ? AND status = 'queued'"
                    ),
                    (time.time(), job_id),
                )
            ]
        )

    async def mark_completed(self, job_id: str) -> None:
        await self._write(
            [
                (
                    "UPDATE jobs SET status = 'completed', finished_at = ? WHERE id = ?",
                    (time.time(), job_id),
                )
            ]
        )

    async def mark_resumed(self, job_id: str, reason: str) -> None:
        await self._write(
            [("UPDATE jobs SET resumed = resumed + 1, reason = ? WHERE id = ?", (reason, job_id))]
        )

    async def fail(self, job_id: str, reason: str) -> list[int]:
        """Mark the job failed; every unfinished item gets a `job_failed` error. Returns them."""
        rows = await self._read(
            "SELECT idx FROM job_items WHERE job_id = ? AND outcome IS NULL", (job_id,)
        )
        error = ItemError(error="job_failed", message=reason).model_dump_json(exclude_none=True)
        now = time.time()
        await self._write(
            [
                (
                    (
                        "UPDATE job_items SET outcome = 'error', result = ?, finished_at = ? "
                        "WHERE job_id = ? AND outcome IS NULL"
                    ),
                    (error, now, job_id),
                ),
                (
                    "UPDATE jobs SET status = 'failed', reason = ?, finished_at = ? WHERE id = ?",
                    (reason, now, job_id),
                ),
            ]
        )
        return [int(row[0]) for row in rows]
