"""Elaboration by zygote children (`PROOFGATE_AUDIT_COMPILER=zygote`; docs/audit-design.md,
section 9, step 8).

A zygote (`proofgate.lean.zygote`) is started per (environment, header), jailed with no writable
path, and imports that header once; each `/v1/check` then gets a child of its own, forked from
it, that elaborates the body alone and exits. The child's reply is the feedback (the REPL's
`CommandResponse`: messages and sorries, placed in the submitted text as the pool places a
worker's), and its export is what the warm checkers judge: one elaboration per check, in a
process that saw no other request, and no import.

A child's reply, on its fd 4, is one JSON object: `{"response": CommandResponse}`, with
`"refusal": {"error", "detail"}` when the export was refused (`proofgate-elab`'s codes); its
export, on fd 5, is written only when no message is an error. What a child comes to:
- past the request's timeout: `ReplTimeout`, as a worker's (the child is killed);
- holding more than `PROOFGATE_MEMORY_LIMIT_MB` of private memory (RssAnon, read on the
  watchdogs' schedule, as a worker's: the environment it shares with its zygote counts):
  `ReplOutOfMemory` (killed);
- ended by a signal or a non-zero exit, or a reply that does not parse or passes its cap:
  `ReplCrashed` / `ReplProtocolError`, as a worker's, never retried (a fresh child given the
  same text would do the same);
- otherwise an `Elaborated`: the run (feedback) and the export, or the refusal.

Zygotes: at most `PROOFGATE_ZYGOTES` live, the least recently used idle one closed first; a
broken one is dropped and started again on next use; a header with an error is kept as its reply
(it fails the same way each time). Children: at most `PROOFGATE_WORKERS` checks' elaborations
at once, and beside them at most as many locked statements' (their references: audit work, which
waits behind no check's proof, as the audit's own processes never wait for a REPL worker; a
statement has no proof to elaborate, so its child is short); at most `PROOFGATE_MAX_QUEUE`
waiting in all (then `Busy`).

Under a writable cgroup each child also has a cgroup of its own (`Zygote.run`): the kernel holds
it to `PROOFGATE_MEMORY_LIMIT_MB` of new memory and a compile's task cap, so a child that grows
faster than the watchdog looks, or starts threads without end, meets its own cap, not its
siblings' share of the jail; one that ended after reaching its task cap is `ReplCrashed`, said
so. The real zygote (`proofgate-elab --zygote`
and its native shim) is written but untested against real Lean; only the stand-ins run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import (
    Busy,
    ReplCrashed,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
)
from proofgate.lean.header import (
    SplitSource,
    map_body_positions,
    map_header_positions,
    split_header,
)
from proofgate.lean.launch import worker_limits
from proofgate.lean.pool import ReplRun
from proofgate.lean.reply import ReplReply
from proofgate.lean.zygote import ChildOutcome, Zygote
from proofgate.sandbox.process import Launch
from proofgate.verify.export import ExportLimits

__all__ = ["Elaborated", "Zygotes", "children_at_most", "elaborated"]

#: A child's reply larger than this is a broken child (the messages of one file).
MAX_REPLY_BYTES = 16 << 20
#: How one environment's zygotes start.
ZygoteLaunch = Callable[[Environment], Launch]


def children_at_most(settings: Settings) -> int:
    """Children a zygote may have at once: the checks' elaborations, the references', and the
    one it forks ahead for the next request (`proofgate.lean.zygote`)."""
    return 2 * settings.workers + 1


@dataclass(frozen=True)
class Elaborated:
    """One child's work: the feedback, and the export (None after an error, or when refused)."""

    run: ReplRun
    export: bytes | None = None
    refusal: tuple[str, str] | None = None  # (code, detail) from the export's writer
    export_over_cap: bool = False


class Zygotes:
    """The service's zygotes and the children it has them fork."""

    def __init__(self, settings: Settings, launch: ZygoteLaunch) -> None:
        self._settings = settings
        self._launch = launch
        self._live: OrderedDict[tuple[str, str], asyncio.Future[Zygote]] = OrderedDict()
        self._users: dict[tuple[str, str], int] = {}
        #: The children's two allowances, made on first use (in the service's loop): a
        #: check's own elaboration (False) and a locked statement's (True).
        self._children: dict[bool, asyncio.Semaphore] = {}
        self._waiting = 0
        self._running = 0
        self._started = 0
        self._closing: set[asyncio.Future[None]] = set()

    def stats(self) -> dict[str, int]:
        """For `/readyz`: zygotes alive (started and serving), ever started, children running,
        checks waiting for a child."""
        live = [_started(z) for z in self._live.values() if z.done()]
        return {
            "live": sum(1 for z in live if z is not None and z.ready and z.broken is None),
            "started": self._started,
            "children": self._running,
            "waiting": self._waiting,
        }

    async def elaborate(
        self, environment: Environment, code: str, *, timeout: float, reference: bool = False
    ) -> Elaborated:
        """`code` elaborated by a fresh child of its header's zygote, within `timeout` seconds;
        `reference`: `code` is a locked statement, elaborated for its reference."""
        if self._waiting >= self._settings.max_queue:
            raise Busy(f"{self._waiting} checks already wait for an elaboration: retry later")
        children = self._children.setdefault(reference, asyncio.Semaphore(self._settings.workers))
        split = split_header(code)
        queued_at = time.monotonic()
        self._waiting += 1
        try:
            await children.acquire()
        finally:
            self._waiting -= 1
        key = (environment.name, split.header)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            zygote = await self._zygote(key, environment)
            started = time.monotonic()
            queue_ms = (started - queued_at) * 1000
            if not zygote.ready:  # the header's error, in the submitted text
                reply = map_header_positions(_header_reply(zygote), split)
                run = ReplRun(reply, split.header, split.header_lines, 0, 1, queue_ms, 0.0, True)
                return Elaborated(run)
            self._running += 1
            try:
                outcome = await zygote.run(
                    json.dumps({"body": split.body}, ensure_ascii=False).encode(),
                    timeout=timeout,
                    max_reply_bytes=MAX_REPLY_BYTES,
                    max_export_bytes=ExportLimits().bytes,
                    child_limits=worker_limits(self._settings),
                )
            finally:
                self._running -= 1
            if zygote.broken is not None:
                self._drop(key, zygote)
            run_ms = (time.monotonic() - started) * 1000
            return elaborated(outcome, split, timeout=timeout, queue_ms=queue_ms, run_ms=run_ms)
        finally:
            self._users[key] -= 1
            children.release()

    def prewarm(self, environment: Environment, headers: list[str]) -> None:
        """Start the zygotes of `headers` (the service's prewarmed ones, as the REPL pool warms
        its workers) in the background: the first checks then find them imported. A start that
        fails is tried again by the first check that needs it."""
        for header in headers[: self._settings.zygotes]:
            key = (environment.name, split_header(header).header)
            if key not in self._live:
                self._live[key] = asyncio.ensure_future(self._start(key, environment))
                self._live[key].add_done_callback(_seen)

    async def _zygote(self, key: tuple[str, str], environment: Environment) -> Zygote:
        """The live zygote for `key`, started once however many requests wait for it."""
        starting = self._live.get(key)
        if starting is not None and starting.done():
            known = _started(starting)
            if known is None or (known.broken is not None and known.ready):
                self._live.pop(key)  # a failed start or a broken zygote: start another
                starting = None
        if starting is None:
            starting = asyncio.ensure_future(self._start(key, environment))
            self._live[key] = starting
            self._evict()
        self._live.move_to_end(key)
        return await asyncio.shield(starting)

    async def _start(self, key: tuple[str, str], environment: Environment) -> Zygote:
        self._started += 1
        return await Zygote.start(
            self._launch(environment), ready_timeout=self._settings.import_timeout, header=key[1]
        )

    def _evict(self) -> None:
        """Close the least recently used idle zygotes past `settings.zygotes`."""
        for key in list(self._live):
            if len(self._live) <= self._settings.zygotes:
                return
            if self._users.get(key, 0) == 0:
                closing = asyncio.ensure_future(_close(self._live.pop(key)))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    def _drop(self, key: tuple[str, str], zygote: Zygote) -> None:
        current = self._live.get(key)
        if current is not None and current.done() and _started(current) is zygote:
            self._live.pop(key)

    async def close(self) -> None:
        """Close every zygote (and so every child)."""
        live, self._live = list(self._live.values()), OrderedDict()
        for starting in live:
            starting.cancel()
        await asyncio.gather(*(_close(s) for s in live), *self._closing)


def _seen(starting: asyncio.Future[Zygote]) -> None:
    """A background start's failure is not an error of its own: its first user sees it."""
    if not starting.cancelled():
        starting.exception()


def _started(starting: asyncio.Future[Zygote]) -> Zygote | None:
    """The zygote a finished start gave, or None if it failed or was cancelled."""
    if starting.cancelled() or starting.exception() is not None:
        return None
    return starting.result()


async def _close(starting: asyncio.Future[Zygote]) -> None:
    with contextlib.suppress(Exception, asyncio.CancelledError):  # a failed start: nothing to close
        await (await starting).close()


def elaborated(
    outcome: ChildOutcome, split: SplitSource, *, timeout: float, queue_ms: float, run_ms: float
) -> Elaborated:
    """What a child's outcome comes to (see the module's docstring)."""
    if outcome.timed_out:
        raise ReplTimeout(f"the elaboration took longer than {timeout:g} s")
    if outcome.over_limit == "memory":
        raise ReplOutOfMemory("the elaboration held more than its memory cap (killed)")
    if outcome.over_limit == "processes":
        raise ReplCrashed(
            "the elaboration reached its cap of processes and threads and "
            f"{_ended(outcome.returncode)}",
            signal=-outcome.returncode if outcome.returncode < 0 else None,
        )
    if outcome.over_limit == "reply":
        raise ReplProtocolError(f"the elaboration's reply is over {MAX_REPLY_BYTES} bytes")
    if outcome.returncode != 0 and outcome.over_limit is None:
        ended = outcome.returncode
        if ended < 0:
            raise ReplCrashed(f"the elaboration was {_ended(ended)}", signal=-ended)
        raise ReplCrashed(f"the elaboration {_ended(ended)}")
    try:
        said = json.loads(outcome.reply)
        if not isinstance(said, dict) or not set(said) <= {"response", "refusal"}:
            raise ValueError("not {response, refusal}")
        reply = ReplReply.parse(said["response"])
        refusal = _refusal(said.get("refusal"))
    except (ValueError, KeyError) as exc:
        raise ReplProtocolError(f"the elaboration's reply is malformed: {exc}") from exc
    run = ReplRun(
        map_body_positions(reply, split.header_lines),
        split.header,
        split.header_lines,
        0,
        1,
        queue_ms,
        run_ms,
    )
    if reply.has_errors or refusal is not None:
        return Elaborated(run, refusal=refusal)
    if outcome.over_limit == "export":
        return Elaborated(run, export_over_cap=True)
    return Elaborated(run, export=outcome.export)


def _ended(returncode: int) -> str:
    """How a child ended, in words: "exited N" or "ended by signal NAME"."""
    if returncode >= 0:
        return f"exited {returncode}"
    number = -returncode
    name = signal.Signals(number).name if number in signal.valid_signals() else number
    return f"ended by signal {name}"


def _header_reply(zygote: Zygote) -> ReplReply:
    try:
        return ReplReply.parse(zygote.header_reply)
    except ValueError as exc:
        raise ReplProtocolError(f"the zygote's header reply is malformed: {exc}") from exc


def _refusal(value: object) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("error"), str):
        raise ValueError("a refusal is {error, detail}")
    detail = value.get("detail")
    return value["error"], (detail if isinstance(detail, str) else "")[:500]
