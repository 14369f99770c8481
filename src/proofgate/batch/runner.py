"""Run a batch: read the input, skip what the results file already holds, check the rest on a
backend, and append each record durably as it arrives.

Stopping at any point (a crash, Ctrl-C, a cancelled task, a backend that gave up) loses only the
checks in flight; running the same batch again finishes exactly the items still missing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

from proofgate.batch.executors.base import BatchExecutor
from proofgate.batch.input import BatchItem, BatchRecord, read_items
from proofgate.batch.output import ResultsFile

__all__ = ["BatchSummary", "record_outcome", "run_batch"]

RecordHook = Callable[[BatchRecord], None]


def record_outcome(record: BatchRecord) -> str:
    """One word for what a record says: its verdict's status, or `error:KIND`."""
    if record.verdict is not None:
        return record.verdict.status.value
    return f"error:{record.error.kind if record.error else 'unknown'}"


@dataclass
class BatchSummary:
    """What a run found and did. `outcomes` counts this run's records by `record_outcome`."""

    input_path: Path
    output_path: Path
    backend: str
    total: int = 0
    already_done: int = 0
    written: int = 0
    torn_bytes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.already_done - self.written)

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


async def run_batch(
    input_path: Path,
    output_path: Path,
    backend: BatchExecutor,
    *,
    on_start: Callable[[BatchSummary], None] | None = None,
    on_record: RecordHook | None = None,
) -> BatchSummary:
    """Check every item of `input_path` not yet in `output_path` on `backend`.

    Raises what the backend raised when it could not go on (`NotReady`, `Busy`, `ServerError`),
    and `CancelledError` when cancelled; the results file is consistent in every case.
    """
    summary = BatchSummary(input_path, output_path, backend.name)
    ids = [entry.id for entry in read_items(input_path)]  # also fails early on an unreadable file
    summary.total = len(ids)
    with ResultsFile(output_path) as results:
        summary.torn_bytes = results.torn_bytes
        summary.already_done = len(results.done.intersection(ids))

        def write(record: BatchRecord) -> None:
            results.write(record)
            summary.written += 1
            summary.outcomes[record_outcome(record)] += 1
            if on_record is not None:
                on_record(record)

        def pending() -> Iterator[BatchItem]:
            for entry in read_items(input_path):
                if entry.id in results.done:
                    continue
                if isinstance(entry, BatchRecord):  # a bad input line: its error is its record
                    write(entry)
                    continue
                yield entry

        if on_start is not None:
            on_start(summary)
        try:
            await backend.start()
            async with aclosing(backend.check_many(pending())) as records:
                async for record in records:
                    write(record)
        finally:
            summary.finished = time.monotonic()
            await backend.close()
    return summary
