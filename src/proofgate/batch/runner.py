"""Run a batch: read the input, skip what the results file already holds, check the rest on a
backend, and append each record durably as it arrives.

A run checks each item in the environment its line names (`default` when none), or, given
`environments`, in each of those (the line's own is then ignored): one record per (item,
environment). Those names are checked against the backend's before anything is checked.

Stopping at any point (a crash, Ctrl-C, a cancelled task, a backend that gave up) loses only the
checks in flight; running the same batch again finishes exactly the pairs still missing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

from proofgate.batch.executors.base import BatchExecutor
from proofgate.batch.input import DEFAULT_ENVIRONMENT, BatchItem, BatchRecord, read_items
from proofgate.batch.output import RecordKey, ResultsFile
from proofgate.exceptions import ConfigError, NotReady
from proofgate.models.http import EnvironmentInfo

__all__ = ["BatchSummary", "record_outcome", "run_batch"]

RecordHook = Callable[[BatchRecord], None]


def record_outcome(record: BatchRecord) -> str:
    """One word for what a record says: its verdict's status, or `error:KIND`."""
    if record.verdict is not None:
        return record.verdict.status.value
    return f"error:{record.error.kind if record.error else 'unknown'}"


@dataclass
class BatchSummary:
    """What a run found and did, counted in records (one per item and environment). `outcomes`
    counts this run's records by `record_outcome`; `environments` is what the run was given."""

    input_path: Path
    output_path: Path
    backend: str
    environments: tuple[str, ...] = ()
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


def _pairs(
    entries: Iterator[BatchItem | BatchRecord], environments: Sequence[str]
) -> Iterator[tuple[RecordKey, BatchItem | BatchRecord]]:
    """Each (id, environment) the run owes a record, with what it comes from: the item moved to
    that environment, or a bad line's error record naming it."""
    for entry in entries:
        if isinstance(entry, BatchRecord):  # a bad input line: its error is its record, each time
            for environment in environments or (DEFAULT_ENVIRONMENT,):
                yield (entry.id, environment), entry.model_copy(update={"environment": environment})
        elif environments:
            for environment in environments:
                yield (entry.id, environment), entry.in_environment(environment)
        else:
            yield (entry.id, entry.environment), entry


def require_environments(named: Sequence[str], listed: list[EnvironmentInfo] | None) -> None:
    """`ConfigError` when a name is not among the backend's `listed` environments (None: it cannot
    tell), naming it and the known ones; `NotReady` when the backend says one cannot serve now."""
    if listed is None:
        return
    known = {info.name: info for info in listed}
    unknown = [name for name in named if name not in known]
    if unknown:
        raise ConfigError(
            f"unknown environment{'s' if len(unknown) > 1 else ''} "
            + ", ".join(repr(name) for name in unknown)
            + "; known: "
            + ", ".join(sorted(known))
        )
    for name in named:
        if known[name].ready is False:
            problems = "; ".join(known[name].problems) or "no reason given"
            raise NotReady(f"environment {name!r} is not ready: {problems}")


async def run_batch(
    input_path: Path,
    output_path: Path,
    backend: BatchExecutor,
    *,
    environments: Sequence[str] = (),
    on_start: Callable[[BatchSummary], None] | None = None,
    on_record: RecordHook | None = None,
) -> BatchSummary:
    """Check every (item, environment) of `input_path` not yet in `output_path` on `backend`.

    Raises `ConfigError` naming an environment of `environments` the backend does not know
    (before anything is checked), what the backend raised when it could not go on (`NotReady`,
    `Busy`, `ServerError`), and `CancelledError` when cancelled; the results file is consistent
    in every case.
    """
    if len(set(environments)) != len(environments):
        raise ConfigError(f"an environment is named twice: {', '.join(environments)}")
    summary = BatchSummary(input_path, output_path, backend.name, tuple(environments))
    # also fails early on an unreadable file
    keys = {key for key, _ in _pairs(read_items(input_path), environments)}
    summary.total = len(keys)
    with ResultsFile(output_path) as results:
        summary.torn_bytes = results.torn_bytes
        summary.already_done = len(results.done & keys)

        def write(record: BatchRecord) -> None:
            results.write(record)
            summary.written += 1
            summary.outcomes[record_outcome(record)] += 1
            if on_record is not None:
                on_record(record)

        def pending() -> Iterator[BatchItem]:
            for key, entry in _pairs(read_items(input_path), environments):
                if key in results.done:
                    continue
                if isinstance(entry, BatchRecord):
                    write(entry)
                    continue
                yield entry

        if on_start is not None:
            on_start(summary)
        try:
            # a backend that can tell without starting (in this process) refuses a name first
            listed = await backend.environments() if environments else None
            require_environments(environments, listed)
            await backend.start()
            if environments and listed is None:
                require_environments(environments, await backend.environments())
            async with aclosing(backend.check_many(pending())) as records:
                async for record in records:
                    write(record)
        finally:
            summary.finished = time.monotonic()
            await backend.close()
    return summary
