"""Batch jobs (proofgate.jobs): the store, the runner's scheduling, failures per item, restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from proofgate.exceptions import Busy, NotReady, SubmissionError
from proofgate.jobs import JobRunner
from proofgate.models import Submission, Verdict
from proofgate.models.jobs import ItemError, parse_item
from proofgate.store.jobs import JobStore, PreparedItem
from tests.support.fake_service import judge
from tests.support.waiting import DEADLINE_SECONDS, until_async

Check = Callable[[Submission], Awaitable[Verdict]]


async def instant(submission: Submission) -> Verdict:
    return judge(submission)


def items(count: int, *, prefix: str = "c") -> list[PreparedItem]:
    return [
        PreparedItem(f"{prefix}{i}", Submission(code=f"theorem t{i} : {i} = {i} := rfl"))
        for i in range(count)
    ]


@asynccontextmanager
async def running(
    path: Path, check: Check = instant, *, grace: float = 5.0, **options: object
) -> AsyncIterator[JobRunner]:
    store = JobStore(path)
    await store.open()

    async def for_tenant(submission: Submission, tenant: str) -> Verdict:
        return await check(submission)

    runner = JobRunner(store, for_tenant, **{"concurrency": 4, **options})  # type: ignore[arg-type]
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop(grace=grace)
        await store.close()


async def collect(runner: JobRunner, job_id: str, **options: object) -> list[dict[str, object]]:
    return [json.loads(line) async for line in runner.stream(job_id, **options)]  # type: ignore[arg-type]


async def test_every_item_is_streamed_exactly_once_with_its_id(tmp_path: Path) -> None:
    async with running(tmp_path / "s.sqlite3") as runner:
        job = await runner.submit(items(50), key_name=None)
        lines = await asyncio.wait_for(collect(runner, job.id), 10)
        assert sorted(line["index"] for line in lines) == list(range(50))
        assert all(line["id"] == f"c{line['index']}" for line in lines)
        assert {line["verdict"]["status"] for line in lines} == {"compiled"}  # type: ignore[index]
        record = await runner.store.job(job.id)
        assert record is not None and record.status == "completed" and record.finished_at
        counts = await runner.store.counts(record)
        assert (counts.done, counts.pending, counts.errors) == (50, 0, 0)
        assert counts.by_status == {"compiled": 50}


async def test_invalid_items_are_error_entries_and_never_fail_the_batch(tmp_path: Path) -> None:
    raw = [
        {"code": "theorem a : 1 = 1 := rfl"},
        7,
        {"code": 1, "id": "x"},
        {"id": 5, "code": "c"},
        {"statement": "s"},
        {"code": "theorem b : 2 = 2 := rfl", "bogus": True},
    ]
    prepared = [PreparedItem(*parse_item(i, r)) for i, r in enumerate(raw)]
    async with running(tmp_path / "s.sqlite3") as runner:
        job = await runner.submit(prepared, key_name=None)
        lines = {
            line["index"]: line for line in await asyncio.wait_for(collect(runner, job.id), 10)
        }
    assert set(lines) == set(range(6))
    assert "verdict" in lines[0]
    for index in (1, 2, 3, 4, 5):
        error = lines[index]["error"]
        assert error["error"] == "validation", error  # type: ignore[index]
    assert lines[2]["id"] == "x"  # the id survives its item's bad fields
    assert lines[2]["error"]["detail"][0]["loc"] == ["body", "items", 2, "code"]  # type: ignore[index]
    assert "bogus" in json.dumps(lines[5]["error"])


async def test_a_batch_of_only_invalid_items_is_completed_at_once(tmp_path: Path) -> None:
    async with running(tmp_path / "s.sqlite3") as runner:
        job = await runner.submit([PreparedItem(*parse_item(0, "nope"))], key_name=None)
        assert job.status == "completed"
        assert [line["index"] for line in await collect(runner, job.id)] == [0]


async def test_service_failures_become_item_errors_and_busy_is_retried(tmp_path: Path) -> None:
    busy_once: set[str] = set()

    async def flaky(submission: Submission) -> Verdict:
        code = submission.code or ""
        if "busy" in code and code not in busy_once:
            busy_once.add(code)
            raise Busy(retry_after=0.01)
        if "field" in code:
            raise SubmissionError("unknown environment 'x'", field="environment")
        if "unready" in code:
            raise NotReady("Lean toolchain missing: run `proofgate setup`")
        if "boom" in code:
            raise RuntimeError("boom")
        return judge(submission)

    codes = ["busy", "field", "unready", "boom", "fine"]
    prepared = [PreparedItem(None, Submission(code=code)) for code in codes]
    async with running(tmp_path / "s.sqlite3", flaky) as runner:
        job = await runner.submit(prepared, key_name=None)
        lines = {
            line["index"]: line for line in await asyncio.wait_for(collect(runner, job.id), 10)
        }
    assert lines[0]["verdict"]["status"] == "compiled"  # type: ignore[index]
    kinds = {i: lines[i]["error"]["error"] for i in (1, 2, 3)}  # type: ignore[index]
    assert kinds == {1: "submission", 2: "not_ready", 3: "internal"}
    assert "proofgate setup" in lines[2]["error"]["message"]  # type: ignore[index]
    assert "verdict" in lines[4]


async def test_concurrency_is_bounded_per_runner_and_per_key(tmp_path: Path) -> None:
    running_now: Counter[str] = Counter()
    peaks: Counter[str] = Counter()

    async def slow(submission: Submission) -> Verdict:
        owner = "total"
        running_now[owner] += 1
        key = (submission.code or "").split(":")[0]
        running_now[key] += 1
        peaks[owner] = max(peaks[owner], running_now[owner])
        peaks[key] = max(peaks[key], running_now[key])
        await asyncio.sleep(0.01)
        running_now[owner] -= 1
        running_now[key] -= 1
        return judge(submission)

    def limit(name: str) -> int | None:
        return 1 if name == "narrow" else None

    async with running(tmp_path / "s.sqlite3", slow, concurrency=3, key_limit=limit) as runner:
        narrow = await runner.submit(
            [PreparedItem(None, Submission(code=f"narrow: {i}")) for i in range(8)],
            key_name="narrow",
        )
        wide = await runner.submit(
            [PreparedItem(None, Submission(code=f"wide: {i}")) for i in range(8)], key_name="wide"
        )
        await asyncio.wait_for(collect(runner, narrow.id), 10)
        await asyncio.wait_for(collect(runner, wide.id), 10)
    assert peaks["total"] == 3
    assert peaks["narrow"] == 1
    assert peaks["wide"] >= 2  # the rest of the room goes to the other key


async def test_jobs_take_turns(tmp_path: Path) -> None:
    order: list[str] = []

    async def record(submission: Submission) -> Verdict:
        order.append((submission.code or "")[0])
        await asyncio.sleep(0)
        return judge(submission)

    async with running(tmp_path / "s.sqlite3", record, concurrency=1) as runner:
        first = await runner.submit(
            [PreparedItem(None, Submission(code=f"a{i}")) for i in range(6)], key_name=None
        )
        second = await runner.submit(
            [PreparedItem(None, Submission(code=f"b{i}")) for i in range(3)], key_name=None
        )
        await asyncio.wait_for(collect(runner, first.id), 10)
        await asyncio.wait_for(collect(runner, second.id), 10)
    # the second job does not wait for the whole first one to finish
    assert order.index("b") < 3 and order.count("b") == 3


async def test_results_page_by_index(tmp_path: Path) -> None:
    async with running(tmp_path / "s.sqlite3") as runner:
        job = await runner.submit(items(20), key_name=None)
        await asyncio.wait_for(collect(runner, job.id), 10)
        page = await collect(runner, job.id, offset=5, limit=4, follow=False)
        assert [line["index"] for line in page] == [5, 6, 7, 8]
        assert await collect(runner, job.id, offset=25, follow=False) == []


async def _interrupted_job(path: Path, total: int) -> tuple[str, int]:
    """Run a job whose items block after the first few; stop the runner mid-way."""
    release = asyncio.Event()
    started = 0

    async def gated(submission: Submission) -> Verdict:
        nonlocal started
        started += 1
        if started > 3:
            await release.wait()
        return judge(submission)

    async def done_now(job_id: str) -> int:
        record = await runner.store.job(job_id)
        assert record is not None
        return (await runner.store.counts(record)).done

    async with running(path, gated, concurrency=2, grace=0.05) as runner:
        job = await runner.submit(items(total), key_name="k")
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (done := await done_now(job.id)) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    return job.id, done


async def test_a_restart_resumes_the_job_and_reruns_only_unfinished_items(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    job_id, done_before = await _interrupted_job(path, 12)
    assert 3 <= done_before < 12
    seen: list[str] = []

    async def counting(submission: Submission) -> Verdict:
        seen.append(submission.code or "")
        return judge(submission)

    async with running(path, counting) as runner:
        lines = await asyncio.wait_for(collect(runner, job_id), 10)
        record = await runner.store.job(job_id)
    assert sorted(line["index"] for line in lines) == list(range(12))
    assert len(seen) == 12 - done_before  # finished items are not run again
    assert record is not None and record.status == "completed"
    assert record.resumed == 1 and "resumed after a server restart" in record.reason


async def test_a_restart_without_resume_fails_the_job_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    job_id, done_before = await _interrupted_job(path, 12)
    async with running(path, instant, resume=False) as runner:
        record = await runner.store.job(job_id)
        lines = await asyncio.wait_for(collect(runner, job_id), 10)
    assert record is not None and record.status == "failed"
    assert "restarted" in record.reason and "job_failed" in record.reason
    failed = [line for line in lines if "error" in line]
    assert len(lines) == 12 and len(failed) == 12 - done_before
    assert all(line["error"]["error"] == "job_failed" for line in failed)  # type: ignore[index]


async def test_a_stored_submission_that_no_longer_parses_is_an_item_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = JobStore(path)
    await store.open()
    job = await store.create(items(2), key_name=None, tenant="local")
    db = store._db()
    await db.execute("UPDATE job_items SET submission = '{\"nope\": 1}' WHERE idx = 1")
    await db.commit()
    await store.close()
    async with running(path) as runner:
        lines = {
            line["index"]: line for line in await asyncio.wait_for(collect(runner, job.id), 10)
        }
    assert "verdict" in lines[0]
    assert lines[1]["error"]["error"] == "validation"  # type: ignore[index]


def test_item_error_shape() -> None:
    error = ItemError(error="validation", message="m")
    assert json.loads(error.model_dump_json(exclude_none=True)) == {
        "error": "validation",
        "message": "m",
    }


@pytest.mark.parametrize("raw", [None, [], "x", 3])
def test_parse_item_refuses_non_objects(raw: object) -> None:
    _client_id, submission, error = parse_item(0, raw)
    assert submission is None and error is not None and error.detail


async def test_stopping_lets_items_in_flight_finish_within_the_grace(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    started = 0
    two_in_flight, release = asyncio.Event(), asyncio.Event()

    async def held(submission: Submission) -> Verdict:
        nonlocal started
        started += 1
        if started == 2:
            two_in_flight.set()
        await release.wait()
        return judge(submission)

    async with running(path, held, concurrency=2, grace=DEADLINE_SECONDS) as runner:
        job = await runner.submit(items(6), key_name=None)
        await asyncio.wait_for(two_in_flight.wait(), DEADLINE_SECONDS)
        stopping = asyncio.ensure_future(runner.stop(grace=DEADLINE_SECONDS))
        # once the runner stopped taking items, the two in flight may finish
        assert await until_async(lambda: runner._loop_task is None or stopping.done())
        release.set()
        await asyncio.wait_for(stopping, DEADLINE_SECONDS)
    assert started == 2  # nothing new was started
    store = JobStore(path)
    await store.open()
    try:
        record = await store.job(job.id)
        assert record is not None
        counts = await store.counts(record)
    finally:
        await store.close()
    assert counts.done == 2 and record.status == "running"  # finished, not cancelled; none new
