"""The service's side of an elaboration zygote (docs/audit-design.md, sections 3, 4 and 9, step 7).

A zygote is a long-lived process, started jailed like any other, that imported one header once and
then forks one child per request; the child elaborates that request alone and exits. The zygote
never reads a submission: it gets fork commands over a `SOCK_SEQPACKET` socket passed to it as its
fd 3 (`SpawnSpec.pass_fds`), each with the child's three pipe ends attached, and answers with the
child's pid, then its exit status. The child reads its request on its fd 3 and writes its reply
on fd 4 and its export on fd 5; this side writes the one and reads the others, under a deadline
and byte caps, and has the zygote kill a child that passes either.

Messages, little-endian, fixed size:
- to the zygote, 16 bytes: `u64 request id, u32 op (FORK or KILL), u32 0`; FORK carries the
  request pipe's read end and the reply and export pipes' write ends (`SCM_RIGHTS`);
- from it, 24 bytes: `u64 request id, u32 kind (STARTED or EXITED), u32 0, i64 value`: the pid
  (or -errno if the fork failed), then the exit status (negative: killed by that signal).

Each zygote keeps one child forked ahead, waiting on its request pipe: a request takes it and a
new one is forked while the request runs, so the fork (with real Lean, a copy of an imported
Mathlib's page tables: design section 8's open cost) is off the request's path; the child has seen
nothing before its request, as a child forked for it would. One that died waiting is replaced;
one found dead by the request's write (its end closed before the request was all written) is
replaced by a child forked for it, once.

Where the zygote's jail nests cgroups (`Limits.member_cgroups`, with a writable cgroup), the
child a request takes is moved into a cgroup of its own before its request is written (it waits
on its request pipe, running nothing of it): the request's memory and task caps, held by the
kernel, so a child cannot take its siblings' tasks or memory. The design moves it there at the
fork instead (`CLONE_INTO_CGROUP`, a fourth descriptor): the move from this side needs no change
to the shim. The child is still killed by the zygote, which sees it in its PID namespace (its
cgroup is removed, whatever is left in it killed, once it is reported gone).

Only stand-ins have run this protocol (`tests/standins/zygote.py`, the bench's simulated zygote);
the real one (`proofgate-elab --zygote` and its native shim, `Proofgate/native/zygote.c`) is
untested against real Lean.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import socket
import struct
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from proofgate.exceptions import ZygoteFailed
from proofgate.lean.zygote_children import ChildrenOnHost
from proofgate.logs import get_logger
from proofgate.sandbox.cgroups import Cgroup
from proofgate.sandbox.pipes import read_capped, write_all
from proofgate.sandbox.process import Launch, Limits, ManagedProcess
from proofgate.ticks import wait_for

__all__ = ["ChildOutcome", "Zygote"]

_log = get_logger("proofgate.zygote")

FORK = 1
KILL = 2
STARTED = 1
EXITED = 2
COMMAND = struct.Struct("<QII")
EVENT = struct.Struct("<QIIq")
#: Seconds to wait for a killed child's exit report before the zygote itself is condemned.
KILL_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ChildOutcome:
    """What one child left: its reply and export (each cut at its cap), and how it ended."""

    reply: bytes
    export: bytes
    returncode: int
    timed_out: bool = False
    #: "reply" or "export": the child wrote past that cap; "memory": it held more than its cap
    over_limit: str | None = None
    #: False: the child closed its request's pipe before the whole request was written (it died
    #: before reading it, so nothing the request holds ran)
    request_taken: bool = True


@dataclass(frozen=True)
class _Caps:
    """One request's caps: bytes of reply and export, and, None for no cap, private memory
    (bytes) and tasks (processes and threads)."""

    reply: int
    export: int
    memory: int | None
    tasks: int | None

    @property
    def watched(self) -> bool:
        """Whether the child is looked at or confined (which needs its host pid)."""
        return self.memory is not None or self.tasks is not None


@dataclass
class _Waiting:
    started: asyncio.Future[int]
    exited: asyncio.Future[int]


@dataclass
class _Child:
    """A forked child as this side holds it: its pipes' ends (request's write, reply's and
    export's read), each closed once, by `Zygote._release` or by the task that watches it."""

    identity: int
    waiting: _Waiting
    fds: tuple[int, int, int]
    unowned: set[int] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.unowned = set(self.fds)


class Zygote:
    """One running zygote: send it requests with `run`; `close` kills it and every child."""

    def __init__(self, process: ManagedProcess, channel: socket.socket) -> None:
        self.process = process
        self._channel = channel
        self._ids = itertools.count(1)
        self._waiting: dict[int, _Waiting] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(channel.fileno(), self._on_events)
        self.broken: str | None = None
        self._children = ChildrenOnHost(process, remove_timeout=KILL_WAIT_SECONDS)
        self._spare: _Child | None = None  # forked ahead, waiting for the next request
        self.ready = True
        #: The header's reply (a CommandResponse), from a zygote given a header.
        self.header_reply: dict[str, Any] | None = None

    @classmethod
    async def start(
        cls, launch: Launch, *, ready_timeout: float, header: str | None = None
    ) -> Zygote:
        """Start `launch` (the zygote program) with the channel as its fd 3, give it `header` (one
        line `{"header": ...}` on its stdin) when there is one, and wait for its ready line (its
        import done). A header with an error gives a zygote that is not `ready`, whose
        `header_reply` says why (it has exited). Raises ZygoteFailed, or SpawnFailed from the
        spawner."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        try:
            process = await launch.spawner.spawn(
                dataclasses.replace(launch.spec, pass_fds=(theirs.fileno(),)), launch.limits
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            if header is not None:
                process.stdin.write(json.dumps({"header": header}).encode() + b"\n")
                await process.stdin.drain()
            line = await wait_for(process.stdout.readline(), ready_timeout)
        except (asyncio.TimeoutError, ValueError, OSError) as exc:
            line = f"no ready line ({type(exc).__name__})".encode()
        ready = _ready_line(line)
        if ready is None:
            process.kill()
            ours.close()
            with contextlib.suppress(asyncio.TimeoutError, OSError):  # its last words, if any
                line += b" " + await asyncio.wait_for(process.stderr.read(4096), 1.0)
            raise ZygoteFailed(f"the zygote did not start: {line[-600:]!r}")
        zygote = cls(process, ours)
        zygote.ready, zygote.header_reply = ready
        if not zygote.ready:
            zygote._condemn("its header has an error")
        zygote._refill()
        return zygote

    async def run(
        self,
        request: bytes,
        *,
        timeout: float,
        max_reply_bytes: int,
        max_export_bytes: int,
        child_limits: Limits | None = None,
    ) -> ChildOutcome:
        """Fork a child for `request`, give it the request, read its reply and export. A child
        past `timeout`, a cap, or `child_limits.memory_bytes` of private memory (RssAnon, as a
        REPL worker's is measured: the imported environment it shares with the zygote counts, as
        it would in a worker that imported it) is killed; its outcome says so. Where the zygote's
        jail nests cgroups (`Limits.member_cgroups`), the child is moved into one of its own
        before it reads its request: that much new memory and `child_limits.max_processes`
        processes and threads, held by the kernel, so a child cannot take its siblings' share of
        the jail. Raises ZygoteFailed."""
        if self.broken is not None:
            raise ZygoteFailed(f"the zygote is broken: {self.broken}")
        limits = child_limits or Limits(max_processes=None)
        caps = _Caps(max_reply_bytes, max_export_bytes, limits.memory_bytes, limits.max_processes)
        outcome = await self._run_child(self._take_spare(), request, timeout=timeout, caps=caps)
        if not outcome.request_taken:  # a child that died before its request: once more
            _log.warning("zygote_child_lost_before_request", returncode=outcome.returncode)
            outcome = await self._run_child(None, request, timeout=timeout, caps=caps)
        return outcome

    async def _run_child(
        self,
        child: _Child | None,
        request: bytes,
        *,
        timeout: float,
        caps: _Caps,
    ) -> ChildOutcome:
        """`run` on `child` (the spare taken) or, if None, on a child forked now."""
        member: Cgroup | None = None
        try:
            if child is None:
                child = self._fork()
            self._refill()  # the next request's child forks while this one runs
            # not wait_for: given a spare's future, done already, it would swallow a cancellation
            started, _ = await asyncio.wait({child.waiting.started}, timeout=timeout)
            if not started:
                raise asyncio.TimeoutError
            pid = child.waiting.started.result()
            if pid < 0:
                raise ZygoteFailed(f"the zygote could not fork: {os.strerror(-pid)}")
            host = await self._children.host_pid(pid) if caps.watched else None
            member = (
                self._children.confine(host, memory_bytes=caps.memory, max_tasks=caps.tasks)
                if host is not None
                else None
            )
            return await self._follow(
                child, request, timeout=timeout, caps=caps, host=host, member=member
            )
        except asyncio.TimeoutError as exc:
            self._condemn("it did not answer a fork in time")
            raise ZygoteFailed(f"the zygote is broken: {self.broken}") from exc
        finally:
            if child is not None:
                self._release(child)
            if member is not None:
                self._children.remove(member)

    def _fork(self) -> _Child:
        """Have the zygote fork a child, which waits for its request; raises ZygoteFailed."""
        identity = next(self._ids)
        waiting = _Waiting(self._loop.create_future(), self._loop.create_future())
        request_read, request_write = os.pipe2(os.O_CLOEXEC)
        reply_read, reply_write = os.pipe2(os.O_CLOEXEC)
        export_read, export_write = os.pipe2(os.O_CLOEXEC)
        child = _Child(identity, waiting, (request_write, reply_read, export_read))
        for fd in child.fds:  # ours only: the child's ends block, as a program's pipes do
            os.set_blocking(fd, False)
        self._waiting[identity] = waiting
        rights = array.array("i", [request_read, reply_write, export_write]).tobytes()
        try:
            self._channel.sendmsg(
                [COMMAND.pack(identity, FORK, 0)],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)],
            )
        except OSError as exc:  # a full buffer included: 16-byte commands never fill it
            self._release(child)
            self._condemn(f"cannot send to it ({exc})")
            raise ZygoteFailed(f"the zygote is broken: {self.broken}") from exc
        finally:
            for fd in (request_read, reply_write, export_write):
                os.close(fd)
        return child

    def _take_spare(self) -> _Child | None:
        """The child forked ahead of this request, if it still waits for one."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.waiting.exited.done():  # it died waiting: not used
            self._release(spare)
            return None
        return spare

    def _refill(self) -> None:
        """Fork the next request's child now, off that request's path (a fork of a process that
        imported Mathlib copies its page tables): it has seen nothing until its request comes."""
        if self._spare is None and self.broken is None and self.ready:
            with contextlib.suppress(ZygoteFailed):  # the zygote is condemned: callers see it
                self._spare = self._fork()

    def _release(self, child: _Child) -> None:
        """Forget `child`: kill it unless it has exited (a caller gone, a spare unused), close
        the pipe ends no task owns."""
        self._waiting.pop(child.identity, None)
        if not child.waiting.exited.done() and self.broken is None:
            with contextlib.suppress(OSError):
                self._channel.send(COMMAND.pack(child.identity, KILL, 0))
        for fd in child.unowned:
            os.close(fd)
        child.unowned.clear()

    async def _follow(
        self,
        child: _Child,
        request: bytes,
        *,
        timeout: float,
        caps: _Caps,
        host: int | None,
        member: Cgroup | None,
    ) -> ChildOutcome:
        request_write, reply_read, export_read = child.fds

        def owning(fd: int, work: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
            """`work` on `fd`, which is closed once it has ended (its reader or writer removed
            first): a number reused by the next child's pipe is never watched for this one."""
            child.unowned.discard(fd)
            task = asyncio.ensure_future(work)
            task.add_done_callback(lambda _: os.close(fd))
            return task

        reply = owning(reply_read, read_capped(self._loop, reply_read, caps.reply))
        export = owning(export_read, read_capped(self._loop, export_read, caps.export))
        # the request's end closed once written: the child reads its request to the end
        feeding = owning(request_write, write_all(self._loop, request_write, request))
        # the jail's records before this child could grow
        oom_kills, task_kills = self.process.oom_kills(), self.process.task_kills()
        watching = asyncio.ensure_future(
            self._children.past_memory(host, caps.memory)
            if host is not None and caps.memory is not None
            else self._loop.create_future()  # no cap: never done
        )
        try:
            outcome = await self._collect(
                child.identity, child.waiting, (reply, export, feeding, watching), timeout=timeout
            )
        finally:  # a caller gone (cancelled) included
            for task in (reply, export, feeding, watching):
                task.cancel()
        if outcome.returncode == 0 or outcome.timed_out or outcome.over_limit:
            return outcome
        if outcome.returncode == -signal.SIGKILL:
            # not killed by this side: by the kernel, for memory, if its cgroup's record (or,
            # with none, the jail's) grew; by the jail's watchdog, for threads, if its count did
            before, now = (
                (0, member.oom_kills())
                if member is not None
                else (oom_kills, self.process.oom_kills())
            )
            if before is not None and now is not None and now > before:
                return dataclasses.replace(outcome, over_limit="memory")
            if self.process.task_kills() > task_kills:
                return dataclasses.replace(outcome, over_limit="processes")
        if member is not None and member.task_cap_hits() > 0:
            return dataclasses.replace(outcome, over_limit="processes")  # it failed at its cap
        return outcome

    async def _collect(
        self,
        identity: int,
        waiting: _Waiting,
        tasks: tuple[asyncio.Future[Any], ...],
        *,
        timeout: float,
    ) -> ChildOutcome:
        """Wait for the child's reply, export, request written and exit, a cap, or its time; kill
        it past any."""
        reply, export, feeding, watching = tasks
        deadline = self._loop.time() + timeout
        needed: set[asyncio.Future[Any]] = {reply, export, feeding, waiting.exited}
        over: str | None = None
        while over is None and not all(f.done() for f in needed):  # all in, a cap, or time up
            left = deadline - self._loop.time()
            if left <= 0:
                break
            await asyncio.wait(
                {f for f in needed if not f.done()} | {watching},
                timeout=left,
                return_when=asyncio.FIRST_COMPLETED,
            )
            over = "reply" if _over(reply) else "export" if _over(export) else None
            if over is None and watching.done() and watching.exception() is None:
                over = "memory"
        timed_out = over is None and not all(f.done() for f in needed)
        if timed_out or over is not None or not waiting.exited.done():
            await self._kill(identity, waiting)
        read_reply = reply.result()[0] if reply.done() and not reply.cancelled() else b""
        read_export = export.result()[0] if export.done() and not export.cancelled() else b""
        return ChildOutcome(
            reply=read_reply,
            export=read_export,
            returncode=waiting.exited.result(),
            timed_out=timed_out,
            over_limit=over,
            request_taken=not _refused(feeding),
        )

    async def _kill(self, identity: int, waiting: _Waiting) -> None:
        with contextlib.suppress(OSError):
            self._channel.send(COMMAND.pack(identity, KILL, 0))
        # not wait_for: on Python 3.11 it swallows a cancellation that meets a done future
        exited, _ = await asyncio.wait({waiting.exited}, timeout=KILL_WAIT_SECONDS)
        if not exited:
            self._condemn("a killed child was not reported gone")
            raise ZygoteFailed(f"the zygote is broken: {self.broken}")

    def _on_events(self) -> None:
        while True:
            try:
                data = self._channel.recv(EVENT.size)
            except BlockingIOError:
                return
            except OSError as exc:
                self._condemn(f"its channel failed ({exc})")
                return
            if len(data) != EVENT.size:
                self._condemn("its channel closed" if not data else "a malformed message")
                return
            identity, kind, _, value = EVENT.unpack(data)
            waiting = self._waiting.get(identity)
            if waiting is None:
                continue  # a child whose caller has gone
            future = waiting.started if kind == STARTED else waiting.exited
            if kind not in (STARTED, EXITED) or future.done():
                self._condemn(f"an event it should not send ({kind} for {identity})")
                return
            future.set_result(value)

    def _condemn(self, why: str) -> None:
        """Stop using this zygote: fail every caller, kill it."""
        if self.broken is None:
            self.broken = why
        spare, self._spare = self._spare, None
        if spare is not None:
            self._release(spare)
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._channel.fileno())
        for waiting in self._waiting.values():
            for future in (waiting.started, waiting.exited):
                if not future.done():
                    future.set_exception(ZygoteFailed(f"the zygote is broken: {why}"))
                    future.exception()  # seen: a caller may be waiting on the other future only
        self.process.kill()

    async def close(self) -> None:
        self._condemn("closed")
        self._channel.close()
        await self.process.wait()
        await self._children.close()


def _ready_line(line: bytes) -> tuple[bool, dict[str, Any] | None] | None:
    """A ready line's `(ready, header reply)`, or None when `line` is not one. A zygote prints it
    on stdout once its import is done: `{"ready": true}` when it takes fork commands, with
    `"header": CommandResponse` when it was given a header (`"ready": false`: the header has an
    error, and the zygote exits)."""
    try:
        said = json.loads(line)
    except ValueError:
        return None
    if not isinstance(said, dict) or not isinstance(said.get("ready"), bool):
        return None
    header = said.get("header")
    if not (header is None or isinstance(header, dict)) or set(said) - {"ready", "header"}:
        return None
    if not said["ready"] and header is None:
        return None  # not ready, and no reply to say why
    return said["ready"], header


def _refused(feeding: asyncio.Future[bool]) -> bool:
    """The request's writer found its child's end closed before all of it was written."""
    done = feeding.done() and not feeding.cancelled() and feeding.exception() is None
    return done and feeding.result() is False


def _over(task: asyncio.Future[tuple[bytes, bool]]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None and task.result()[1]
