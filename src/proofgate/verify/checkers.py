"""The warm checkers: a few long-lived `proofgate-checker --serve` processes that judge exports
(docs/audit-design.md: section 4 step 6, requirement 4; migration step 4).

Each checker imports once, then answers one check at a time. Protocol, one JSON object a line
both ways (the stand-in: tests/standins/export_checker.py, serve mode):
- the checker, once imported: `{"ready": {"contract": 2, "checker": ..., "lean": ...}}`;
- a request: `{"check": N, "submission": PATH, "reference": PATH | null, "target": T | null,
  "axioms": [...], "answer_holes": [...], "module_roots": [...]}` (the one-shot options as data);
- the answer: the contract-2 report with `check` = N (`parse_report`), one line.

Nothing a checker prints is trusted beyond that. A reply counts only if it is one line of at most
`max_reply_bytes`, comes while its check is in flight and before the deadline, from a checker not
condemned and under its memory caps, and carries that check's number. Anything else (the deadline,
a cap, a crash, printing while idle, a wrong `check`) condemns the checker: from then on every byte
it writes is discarded, its tree is killed, a fresh one (importing once) takes its slot, and the
check's result is a `CheckFailure`, never a report. A condemned checker never gets another check,
so a late answer has nowhere to go. Checkers are also recycled after `recycle_after` checks.

Results are values (`ExportAuditReport | CheckFailure`); faults of the pool itself raise:
`AuditError` (a checker that cannot start), `NotReady` (the pool is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from proofgate.exceptions import AuditError, NotReady, SpawnFailed
from proofgate.logs import get_logger
from proofgate.sandbox.pipes import READ_CHUNK, ChildReaders, Frames, FrameTooLarge
from proofgate.sandbox.process import Launch, ManagedProcess
from proofgate.verify.contract import (
    EXPORT_CONTRACT_VERSION,
    ExportAuditReport,
    ReportError,
    parse_report,
)

__all__ = [
    "CHECKERS",
    "CHECK_TIMEOUT_SECONDS",
    "MAX_REPLY_BYTES",
    "MEMORY_GROWTH_BYTES",
    "RECYCLE_AFTER",
    "CheckFailure",
    "CheckRequest",
    "CheckResult",
    "CheckerStats",
    "Checkers",
    "FailureKind",
]

#: Defaults of the design's settings (requirement 4): PROOFGATE_CHECKERS,
#: PROOFGATE_CHECKER_RECYCLE, PROOFGATE_AUDIT_CHECK_TIMEOUT; the RSS growth cap per check.
CHECKERS = 2
RECYCLE_AFTER = 1_000
CHECK_TIMEOUT_SECONDS = 20.0
MEMORY_GROWTH_BYTES = 2 << 30
#: A report is small (names, axioms, one detail line); a longer line is a fault, not a report.
MAX_REPLY_BYTES = 16 << 20
#: Seconds a checker has to import and print its ready line.
START_SECONDS = 300.0
#: Seconds between two samples of a busy checker's private memory.
MEMORY_POLL_SECONDS = 0.1
#: Seconds the readers get, after an exit, for the last bytes; and `close` for the reaping.
EXIT_GRACE_SECONDS = 1.0
CLOSE_WAIT_SECONDS = 5.0
STDERR_TAIL_BYTES = 16 * 1024

_log = get_logger("proofgate.checkers")

FailureKind = Literal["timeout", "out_of_memory", "reply_too_large", "crashed", "protocol"]


@dataclass(frozen=True)
class CheckRequest:
    """One check: the submission's export judged against the reference's (`target`), or alone
    (a free compile: no reference, no target). Paths are as the checker's jail sees them."""

    submission: Path
    reference: Path | None = None
    target: str | None = None
    axioms: tuple[str, ...] = ()
    answer_holes: tuple[str, ...] = ()
    module_roots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.reference is None) != (self.target is None):
            raise ValueError("a reference and a target go together")
        if self.answer_holes and self.reference is None:
            raise ValueError("answer holes need a reference")

    def line(self, check: int) -> bytes:
        return (
            json.dumps(
                {
                    "check": check,
                    "submission": str(self.submission),
                    "reference": None if self.reference is None else str(self.reference),
                    "target": self.target,
                    "axioms": list(self.axioms),
                    "answer_holes": list(self.answer_holes),
                    "module_roots": list(self.module_roots),
                },
                ensure_ascii=False,
            ).encode("utf-8")
            + b"\n"
        )


@dataclass(frozen=True)
class CheckFailure:
    """A check that got no report: its checker passed a limit, died, or broke the protocol (and
    was replaced). `timeout` and `out_of_memory` are the submission's outcome; the others are not
    (the wiring retries a crash once, design requirement 4)."""

    kind: FailureKind
    reason: str
    stderr: str = ""
    returncode: int | None = None

    def __str__(self) -> str:
        return self.reason


CheckResult = ExportAuditReport | CheckFailure


@dataclass
class CheckerStats:
    """Counters for metrics and tests."""

    started: int = 0  # processes that printed their ready line
    replaced: int = 0  # condemned (limit, crash, protocol) and replaced
    recycled: int = 0  # replaced after `recycle_after` checks
    discarded_bytes: int = 0  # written by condemned checkers, never read as a reply
    failures: dict[str, int] = field(default_factory=dict)


class _Checker:
    """One checker process: its pipes read by tasks of its own, one check at a time."""

    def __init__(
        self, process: ManagedProcess, *, max_reply_bytes: int, stats: CheckerStats
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.checks = 0
        self._max_reply = max_reply_bytes
        self._stats = stats
        self._state: Literal["starting", "idle", "busy", "condemned"] = "starting"
        self.failure: CheckFailure | None = None  # why it was condemned
        loop = asyncio.get_running_loop()
        # the next line the checker owes: its ready line now, then each check's answer
        self._pending: asyncio.Future[bytes | CheckFailure] | None = loop.create_future()
        self._readers = ChildReaders(
            process,
            name=f"checker-{self.pid}",
            stderr_limit=STDERR_TAIL_BYTES,
            read_stdout=self._read_stdout,
            watch_exit=self._watch_exit,
        )

    @classmethod
    async def start(
        cls, launch: Launch, *, max_reply_bytes: int, stats: CheckerStats, timeout: float
    ) -> _Checker:
        """Spawn a checker and wait for its ready line (AuditError if it does not come)."""
        try:
            process = await launch.spawn()
        except (OSError, SpawnFailed) as exc:
            raise AuditError(f"could not start the checker {launch.spec.argv[0]}: {exc}") from exc
        checker = cls(process, max_reply_bytes=max_reply_bytes, stats=stats)
        try:
            line = await checker._next_line(timeout, what="its ready line")
            if isinstance(line, CheckFailure):
                raise AuditError(f"the checker did not start: {line.reason}")
            problem = _not_ready(line)
            if problem is not None:
                checker.condemn(CheckFailure("protocol", problem))
                raise AuditError(f"the checker did not start: {problem}")
        except BaseException:
            await checker.close()
            raise
        checker._state = "idle"
        stats.started += 1
        return checker

    @property
    def usable(self) -> bool:
        return self._state == "idle" and self.process.returncode is None

    def stderr_tail(self) -> str:
        return self._readers.stderr.text()

    async def _next_line(self, timeout: float, *, what: str) -> bytes | CheckFailure:
        future = self._pending
        assert future is not None
        # not wait_for: on Python 3.11 it swallows a cancellation that meets a done future
        await asyncio.wait({future}, timeout=timeout)
        if not future.done():
            self.condemn(CheckFailure("timeout", f"no {what} within {timeout:g} s"))
        return future.result()

    async def run(
        self, check: int, request: CheckRequest, *, timeout: float, memory_growth: int | None
    ) -> CheckResult:
        """Send one request and judge what comes back (see the module docstring)."""
        assert self._state == "idle", self._state
        loop = asyncio.get_running_loop()
        self._state = "busy"
        self.checks += 1
        future: asyncio.Future[bytes | CheckFailure] = loop.create_future()
        self._pending = future
        deadline = loop.time() + timeout
        idle_memory = self.process.private_memory_bytes() if memory_growth is not None else None
        try:
            self.process.stdin.write(request.line(check))
        except (ConnectionError, OSError, RuntimeError) as exc:
            self.condemn(self._exit_failure(f"its stdin closed ({exc})"))
        try:
            while not future.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self.condemn(
                        CheckFailure(
                            "timeout", f"no answer within {timeout:g} s: the checker was killed"
                        )
                    )
                    break
                poll = remaining if idle_memory is None else min(remaining, MEMORY_POLL_SECONDS)
                await asyncio.wait({future}, timeout=poll)
                if not future.done():
                    self._check_memory(idle_memory, memory_growth)
        except asyncio.CancelledError:
            # the caller gave up mid-check: the checker's state is unknown, it cannot be reused
            self.condemn(CheckFailure("crashed", "the check was cancelled"))
            raise
        answer = future.result()
        if isinstance(answer, CheckFailure):
            return answer
        # A line, while busy: still on time and within the caps when it is judged?
        if loop.time() > deadline:
            return self.condemn(CheckFailure("timeout", f"the answer came after {timeout:g} s"))
        self._check_memory(idle_memory, memory_growth)
        if self.failure is not None:
            return self.failure
        try:
            report = parse_report(answer)
        except ReportError as exc:
            return self.condemn(CheckFailure("protocol", f"its answer is no report: {exc}"))
        if not isinstance(report, ExportAuditReport):
            return self.condemn(
                CheckFailure("protocol", f"it answered in contract {report.contract}, not 2")
            )
        if report.check != check:
            return self.condemn(
                CheckFailure("protocol", f"it answered check {report.check}, not {check}")
            )
        self._state = "idle"
        return report

    def _check_memory(self, idle: int | None, growth: int | None) -> None:
        if self.process.out_of_memory():
            self.condemn(CheckFailure("out_of_memory", "the checker went over its memory cap"))
            return
        if idle is None or growth is None:
            return
        used = self.process.private_memory_bytes()
        if used is not None and used - idle > growth:
            self.condemn(
                CheckFailure(
                    "out_of_memory",
                    f"the checker grew by {(used - idle) / 2**20:.0f} MiB during one check, over "
                    f"its {growth / 2**20:.0f} MiB cap: it was killed",
                )
            )

    def condemn(self, failure: CheckFailure, *, breach: bool = True) -> CheckFailure:
        """Stop believing this checker (first reason wins), kill its tree, fail what it owes.
        `breach` False: an orderly end (recycled, closed), neither counted nor logged."""
        if self.failure is None:
            self.failure = _with_stderr(failure, self.stderr_tail())
            if breach:
                self._stats.failures[failure.kind] = self._stats.failures.get(failure.kind, 0) + 1
                _log.warning(
                    "checker_condemned", pid=self.pid, kind=failure.kind, reason=failure.reason
                )
        self._state = "condemned"
        self.process.kill()
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_result(self.failure)
        return self.failure

    def _exit_failure(self, how: str) -> CheckFailure:
        code = self.process.returncode
        if self.process.out_of_memory():
            return CheckFailure("out_of_memory", f"the checker went over its memory cap ({how})")
        status = "still running" if code is None else f"exit status {code}"
        last = self.stderr_tail().strip().splitlines()[-1:] or ["no stderr"]
        return CheckFailure(
            "crashed",
            f"the checker stopped: {how}, {status}; last stderr line: {last[0][:300]}",
            returncode=code,
        )

    async def _read_stdout(self) -> None:
        frames = Frames(b"\n", self._max_reply)  # one line an answer
        while chunk := await self.process.stdout.read(READ_CHUNK):
            if self._state == "condemned":
                self._stats.discarded_bytes += len(chunk)  # a late or unwanted answer
                continue
            if self._pending is None:
                self._stats.discarded_bytes += len(chunk)
                self.condemn(CheckFailure("protocol", f"it printed while idle ({chunk[:120]!r})"))
                continue
            try:
                framed = frames.feed(chunk)
            except FrameTooLarge as exc:
                self._stats.discarded_bytes += exc.discarded
                self.condemn(
                    CheckFailure(
                        "reply_too_large", f"its answer passed {self._max_reply} bytes unfinished"
                    )
                )
                continue
            if framed is None:
                continue
            line, rest = framed
            if rest:
                self.condemn(
                    CheckFailure("protocol", f"it printed more than one line ({rest[:120]!r})")
                )
                continue
            pending, self._pending = self._pending, None
            if pending is not None and not pending.done():
                pending.set_result(line)

    async def _watch_exit(self) -> None:
        """An exit the pool did not ask for is a crash; the last words are read first."""
        await self.process.wait()
        await self._readers.last_words(EXIT_GRACE_SECONDS)
        if self.failure is None:
            self.condemn(self._exit_failure("it exited"))

    async def close(self) -> None:
        """Kill the tree and wait (bounded) for it and the readers; idempotent."""
        self.condemn(CheckFailure("crashed", "the checker was closed"), breach=False)
        await self._readers.reap(
            readers_timeout=CLOSE_WAIT_SECONDS,
            exit_timeout=CLOSE_WAIT_SECONDS,
        )


def _with_stderr(failure: CheckFailure, stderr: str) -> CheckFailure:
    return CheckFailure(failure.kind, failure.reason, stderr or failure.stderr, failure.returncode)


def _not_ready(line: bytes) -> str | None:
    """Why `line` is not a checker's ready line of contract 2 (None: it is)."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        return f"its first line is no JSON ({exc}; {line[:120]!r})"
    ready = value.get("ready") if isinstance(value, dict) and set(value) == {"ready"} else None
    if not isinstance(ready, dict):
        return f"its first line is no ready line ({line[:120]!r})"
    if ready.get("contract") != EXPORT_CONTRACT_VERSION:
        return (
            f"it speaks contract {ready.get('contract')!r}, not {EXPORT_CONTRACT_VERSION}: "
            "rebuild it (`lake build proofgate-checker`)"
        )
    return None


@dataclass(eq=False)
class _Slot:
    """A place for one checker: the live one, or the start of its replacement."""

    checker: _Checker | None = None
    starting: asyncio.Task[_Checker] | None = None


class Checkers:
    """`size` warm checkers started by `launch` (so jail and limits apply); `check` hands a
    request to an idle one, waiters queue in order."""

    def __init__(
        self,
        launch: Launch,
        *,
        size: int = CHECKERS,
        recycle_after: int = RECYCLE_AFTER,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        memory_growth_bytes: int | None = MEMORY_GROWTH_BYTES,
        start_timeout: float = START_SECONDS,
    ) -> None:
        if size < 1 or recycle_after < 1:
            raise ValueError("a checker pool needs at least one checker and one check per checker")
        self._launch = launch
        self.size = size
        self.recycle_after = recycle_after
        self._max_reply = max_reply_bytes
        self._memory_growth = memory_growth_bytes
        self._start_timeout = start_timeout
        self.stats = CheckerStats()
        self._slots = [_Slot() for _ in range(size)]
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._idle.put_nowait(slot)
        self._last_check = 0
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def idle(self) -> int:
        """Checkers free for a check now (the others are busy or being replaced)."""
        return self._idle.qsize()

    async def start(self) -> None:
        """Start every checker now (else each starts on its first check); AuditError if one
        cannot start (the pool is then closed)."""
        for slot in self._slots:
            if slot.checker is None and slot.starting is None:
                slot.starting = self._start_task()
        try:
            await asyncio.gather(*(s.starting for s in self._slots if s.starting is not None))
        except BaseException:
            await self.close()
            raise

    def prewarm(self) -> None:
        """Start every checker not started yet, in the background: the first checks then find
        them imported. A start that fails is seen by the first check that needs its slot, which
        starts another (unlike `start`, nothing is closed)."""
        if self._closed:
            return
        for slot in self._slots:
            if slot.checker is None and slot.starting is None:
                slot.starting = self._start_task()

    async def check(
        self, request: CheckRequest, *, timeout: float = CHECK_TIMEOUT_SECONDS
    ) -> CheckResult:
        """One check on an idle checker (waiting for one in order); see the module docstring."""
        if self._closed:
            raise NotReady("the checker pool is closed")
        slot = await self._idle.get()
        try:
            if self._closed:
                raise NotReady("the checker pool is closed")
            checker = await self._ready(slot)
            self._last_check += 1
            result = await checker.run(
                self._last_check, request, timeout=timeout, memory_growth=self._memory_growth
            )
            if isinstance(result, CheckFailure) and self._closed:
                raise NotReady("the checker pool was closed during the check")
            return result
        finally:
            self._release(slot)

    async def _ready(self, slot: _Slot) -> _Checker:
        """The slot's idle checker, after its start (or a new one if it died while idle)."""
        if slot.checker is not None and not slot.checker.usable:
            self._retire(slot, recycled=False)
        if slot.checker is None and slot.starting is None:
            slot.starting = self._start_task()
        if slot.starting is not None:
            starting = slot.starting
            try:
                slot.checker = await asyncio.shield(starting)  # a cancelled waiter leaves it
            except asyncio.CancelledError:
                if starting.cancelled() and self._closed:
                    raise NotReady("the checker pool was closed") from None
                raise
            finally:
                if starting.done():
                    slot.starting = None
        assert slot.checker is not None
        return slot.checker

    def _release(self, slot: _Slot) -> None:
        """Put the slot back, its checker replaced if it was condemned or has served enough."""
        checker = slot.checker
        if not self._closed and checker is not None:
            if not checker.usable:
                self._retire(slot, recycled=False)
                slot.starting = self._start_task()  # now: the next check need not wait as long
            elif checker.checks >= self.recycle_after:
                self._retire(slot, recycled=True)
                slot.starting = self._start_task()
        self._idle.put_nowait(slot)

    def _retire(self, slot: _Slot, *, recycled: bool) -> None:
        checker, slot.checker = slot.checker, None
        if checker is None:
            return
        if recycled:
            self.stats.recycled += 1
        else:
            self.stats.replaced += 1
        _log.info("checker_retired", pid=checker.pid, recycled=recycled, checks=checker.checks)
        task = asyncio.get_running_loop().create_task(checker.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _start_task(self) -> asyncio.Task[_Checker]:
        task = asyncio.get_running_loop().create_task(
            _Checker.start(
                self._launch,
                max_reply_bytes=self._max_reply,
                stats=self.stats,
                timeout=self._start_timeout,
            ),
            name="checker-start",
        )
        # a failed start is raised to the check that awaits it; this only marks it seen
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    async def close(self) -> None:
        """Kill every checker (checks in flight raise NotReady) and wait for them; idempotent."""
        self._closed = True
        starting = [s.starting for s in self._slots if s.starting is not None]
        checkers = [s.checker for s in self._slots if s.checker is not None]
        for task in starting:
            task.cancel()
        for task in starting:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                checkers.append(await task)  # started before the cancel could land
        for slot in self._slots:
            slot.checker, slot.starting = None, None
        await asyncio.gather(*(c.close() for c in checkers), *list(self._closing))
