"""Batch jobs: kept in the SQLite store, worked through by one runner task per process.

A job lives in the store's job tables (`proofgate.store.jobs`). The runner feeds
pending items to `check` (the service's) with bounded concurrency, taking turns between jobs and
holding each API key to its concurrency limit; every finished item is written first and then
published to the job's listeners, which is what `stream` follows.

After a restart every job still `queued` or `running` is resumed (its items without a result run
again) or, with `resume_jobs=False`, marked `failed` with the reason, each unfinished item getting
a `job_failed` error: a job is never lost silently.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from proofgate.exceptions import Busy, NotReady, StoreError, SubmissionError
from proofgate.logs import get_logger
from proofgate.models import Submission, Verdict
from proofgate.models.jobs import ItemError
from proofgate.models.tenant import LOCAL
from proofgate.store.jobs import JobRecord, JobStore, PreparedItem, result_line

__all__ = ["JobRunner"]

#: `check(submission, tenant)`: the service's check, on the job's tenant's workers.
CheckFunction = Callable[[Submission, str], Awaitable[Verdict]]
KeyLimit = Callable[[str], "int | None"]

_log = get_logger("proofgate.jobs")
_FETCH = 64  # pending items read from the store at a time, per job
_PAGE = 500  # results read at a time when streaming


@dataclass
class _ActiveJob:
    """A job this process is working through."""

    record: JobRecord
    done: int
    started: bool
    cursor: int = 0
    exhausted: bool = False
    buffer: deque[tuple[int, str | None, str | None]] = field(default_factory=deque)


_END = None  # what listeners receive when a job ends (or the runner stops)


class JobRunner:
    """Works through every active job's pending items, `concurrency` at a time."""

    def __init__(
        self,
        store: JobStore,
        check: CheckFunction,
        *,
        concurrency: int,
        key_limit: KeyLimit | None = None,
        resume: bool = True,
        on_item: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self._check = check
        self.concurrency = max(1, concurrency)
        self._key_limit = key_limit or (lambda _name: None)
        self._resume = resume
        self._on_item = on_item
        self._active: dict[str, _ActiveJob] = {}
        self._listeners: dict[str, set[asyncio.Queue[tuple[int, str] | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_key: dict[str, int] = {}
        self._turn = 0
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Take up (or fail) the jobs a previous process left unfinished, then start working."""
        for job in await self.store.unfinished():
            if self._resume:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
                reason = f"resumed after a server restart at {when} UTC"
                await self.store.mark_resumed(job.id, reason)
                done = await self.store.done_count(job.id)
                self._active[job.id] = _ActiveJob(job, done=done, started=job.status == "running")
                _log.info("job_resumed", job=job.id, done=done, total=job.total)
            else:
                reason = (
                    "the server restarted before this job finished and PROOFGATE_RESUME_JOBS is "
                    "off: resubmit the items that have a `job_failed` error"
                )
                failed = await self.store.fail(job.id, reason)
                _log.warning("job_failed_on_restart", job=job.id, unfinished=len(failed))
        self._loop_task = asyncio.create_task(self._loop(), name="proofgate-job-runner")
        self._wake.set()

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop working: start nothing new, let items in flight finish for up to `grace` seconds,
        then cancel the rest; unfinished items stay pending in the store for the next start."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for listeners in self._listeners.values():
            for queue in listeners:
                queue.put_nowait(_END)

    def stats(self) -> dict[str, int]:
        pending = sum(job.record.total - job.done for job in self._active.values())
        return {
            "active_jobs": len(self._active),
            "pending_items": pending,
            "in_flight": len(self._tasks),
        }

    def is_active(self, job_id: str) -> bool:
        return job_id in self._active

    # --- submitting ----------------------------------------------------------------------

    async def submit(
        self, items: Sequence[PreparedItem], *, key_name: str | None, tenant: str = LOCAL
    ) -> JobRecord:
        """Persist a new job of `tenant` (its quotas charged to `key_name`) and queue it; returns
        its record at once."""
        job = await self.store.create(items, key_name=key_name, tenant=tenant)
        if not job.finished:
            done = sum(1 for item in items if item.error is not None)
            self._active[job.id] = _ActiveJob(job, done=done, started=False)
            self._wake.set()
        return job

    # --- working -------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._fill()
            except StoreError as exc:  # keep the runner alive; the next wake retries
                _log.error("job_runner_store_error", error=str(exc))
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _fill(self) -> None:
        while len(self._tasks) < self.concurrency:
            jobs = list(self._active.values())
            if not jobs:
                return
            start = self._turn % len(jobs)
            started = False
            for job in jobs[start:] + jobs[:start]:
                if len(self._tasks) >= self.concurrency:
                    return
                key = job.record.key_name
                limit = self._key_limit(key) if key else None
                if key and limit is not None and self._by_key.get(key, 0) >= limit:
                    continue
                item = await self._next_item(job)
                if item is None:
                    continue
                if not job.started:
                    job.started = True
                    await self.store.mark_running(job.record.id)
                self._launch(job, *item)
                started = True
            self._turn += 1
            if not started:
                return

    async def _next_item(self, job: _ActiveJob) -> tuple[int, str | None, str | None] | None:
        if not job.buffer and not job.exhausted:
            fetched = await self.store.pending(job.record.id, after=job.cursor, limit=_FETCH)
            job.buffer.extend(fetched)
            if fetched:
                job.cursor = fetched[-1][0] + 1
            if len(fetched) < _FETCH:
                job.exhausted = True
        return job.buffer.popleft() if job.buffer else None

    def _launch(
        self, job: _ActiveJob, index: int, client_id: str | None, submission: str | None
    ) -> None:
        key = job.record.key_name
        if key:
            self._by_key[key] = self._by_key.get(key, 0) + 1
        task = asyncio.create_task(self._run_item(job, index, client_id, submission))
        self._tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            if key:
                left = self._by_key.get(key, 1) - 1
                if left > 0:
                    self._by_key[key] = left
                else:
                    self._by_key.pop(key, None)
            self._wake.set()

        task.add_done_callback(finished)

    async def _run_item(
        self, job: _ActiveJob, index: int, client_id: str | None, stored: str | None
    ) -> None:
        outcome, result = await self._outcome(stored, job.record.tenant)
        try:
            await self.store.finish_item(job.record.id, index, outcome, result)
        except StoreError as exc:  # still answer the listeners; a restart runs it again
            _log.error("job_item_not_saved", job=job.record.id, index=index, error=str(exc))
        if self._on_item is not None:
            self._on_item(outcome)
        job.done += 1
        self._publish(job.record.id, (index, result_line(index, client_id, outcome, result)))
        if job.done >= job.record.total and self._active.pop(job.record.id, None) is not None:
            try:
                await self.store.mark_completed(job.record.id)
            except StoreError as exc:
                _log.error("job_not_marked_completed", job=job.record.id, error=str(exc))
            self._publish(job.record.id, _END)
            _log.info("job_completed", job=job.record.id, total=job.record.total)

    async def _outcome(self, stored: str | None, tenant: str) -> tuple[str, str]:
        """(outcome, result JSON) for one stored submission; every failure is an item error."""
        try:
            submission = Submission.model_validate_json(stored or "")
        except ValidationError as exc:
            return _error(
                "validation",
                f"the stored submission is unreadable ({exc.errors()[0]['msg']}): resubmit it",
            )
        while True:
            try:
                verdict = await self._check(submission, tenant)
            except Busy as exc:
                await exc.wait()
                continue
            except SubmissionError as exc:
                return _error("submission", f"{exc.field or 'submission'}: {exc}")
            except NotReady as exc:
                return _error("not_ready", f"cannot verify now: {exc.reason}; resubmit later")
            except Exception as exc:  # one item's failure never stops the job
                _log.error("job_item_failed", error=repr(exc))
                return _error(
                    "internal",
                    f"internal error ({type(exc).__name__}): proofgate's fault, not the "
                    "submission's; resubmit it, and report it if it recurs",
                )
            return verdict.status.value, verdict.model_dump_json()

    # --- listening -----------------------------------------------------------------------

    def _publish(self, job_id: str, message: tuple[int, str] | None) -> None:
        for queue in self._listeners.get(job_id, ()):
            queue.put_nowait(message)

    async def stream(
        self, job_id: str, *, offset: int = 0, limit: int | None = None, follow: bool = True
    ) -> AsyncIterator[str]:
        """Result lines for items `offset <= index < offset + limit`: those finished (in index
        order), then, with `follow`, each of the rest as it finishes. Every line exactly once."""
        queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self._listeners.setdefault(job_id, set()).add(queue)  # before reading: nothing slips by
        try:
            job = await self.store.job(job_id)
            if job is None:
                return
            end = job.total if limit is None else min(job.total, offset + limit)
            wanted = max(0, end - offset)
            sent: set[int] = set()
            async for index, line in self._stored(job_id, offset, end):
                sent.add(index)
                yield line
            if not follow:
                return
            while len(sent) < wanted and self.is_active(job_id):
                message = await queue.get()
                if message is _END:
                    break
                index, line = message
                if offset <= index < end and index not in sent:
                    sent.add(index)
                    yield line
            if len(sent) < wanted:  # ended (or failed) meanwhile: whatever was written last
                async for index, line in self._stored(job_id, offset, end):
                    if index not in sent:
                        sent.add(index)
                        yield line
        finally:
            listeners = self._listeners.get(job_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[job_id]

    async def _stored(self, job_id: str, start: int, end: int) -> AsyncIterator[tuple[int, str]]:
        position = start
        while position < end:
            page = await self.store.results(job_id, start=position, end=min(end, position + _PAGE))
            for entry in page:
                yield entry
            position += _PAGE


def _error(kind: str, message: str) -> tuple[str, str]:
    return "error", ItemError(error=kind, message=message).model_dump_json(exclude_none=True)
