"""`--server URL`: the same batch through real HTTP gives the local pool's results; a server that
goes away stops the run with what was done kept."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from proofgate.api.app import create_app
from proofgate.backends import SERVER_CONCURRENCY
from proofgate.batch.executors.checker import CheckerExecutor
from proofgate.batch.output import read_records
from proofgate.batch.runner import run_batch
from proofgate.config import Settings
from proofgate.exceptions import ServerError
from tests.batch.items import write_batch
from tests.batch.test_runner import outcomes, stack_in
from tests.support.live_app import run_app
from tests.support.server import free_port

ITEMS = 120


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


async def test_a_server_gives_the_local_pools_results(tmp_path: Path) -> None:
    write_batch(tmp_path / "in.jsonl", ITEMS)
    reference = tmp_path / "local.jsonl"
    await run_batch(
        tmp_path / "in.jsonl",
        reference,
        CheckerExecutor(service=stack_in(tmp_path / "l").service()),
    )
    stack = stack_in(tmp_path / "s")
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        summary = await run_batch(
            tmp_path / "in.jsonl",
            tmp_path / "http.jsonl",
            CheckerExecutor(server=url, concurrency=6),
        )
    assert summary.complete and summary.backend == "server"
    assert outcomes(tmp_path / "http.jsonl") == outcomes(reference)


async def test_an_unreachable_server_stops_the_run_before_anything_is_written(
    tmp_path: Path,
) -> None:
    write_batch(tmp_path / "in.jsonl", 10)
    backend = CheckerExecutor(server=f"http://127.0.0.1:{free_port()}", retry_backoff=0.01)
    with pytest.raises(ServerError, match="cannot reach"):
        await run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend)
    assert read_records(tmp_path / "out.jsonl") == []


async def test_a_server_lost_midway_keeps_what_was_done(tmp_path: Path) -> None:
    write_batch(tmp_path / "in.jsonl", ITEMS)
    stack = stack_in(tmp_path / "s")
    server = run_app(create_app(stack.settings, service=stack.service()), timeout=20)
    url = server.__enter__()
    written: list[str] = []

    def stop_the_server_midway(record: object) -> None:
        written.append(record.id)
        if len(written) == 30:
            server.__exit__(None, None, None)

    backend = CheckerExecutor(server=url, concurrency=2, retry_backoff=0.01)
    with pytest.raises(ServerError):
        await run_batch(
            tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend, on_record=stop_the_server_midway
        )
    kept = read_records(tmp_path / "out.jsonl")
    assert 30 <= len(kept) < ITEMS and [r.id for r in kept] == written


def test_a_server_gets_the_one_default_concurrency_a_local_pool_twice_its_workers() -> None:
    """`proofgate batch --server` and `proofgate ci --server` keep the same number in flight
    (backends.SERVER_CONCURRENCY, 4: batch used 8, ci 4); nothing connects here."""
    assert SERVER_CONCURRENCY == 4
    assert CheckerExecutor(server="http://127.0.0.1:9").concurrency == SERVER_CONCURRENCY
    settings = Settings(workers=3)
    assert CheckerExecutor(settings).concurrency == 6
    assert CheckerExecutor(settings, server="http://127.0.0.1:9", concurrency=2).concurrency == 2
