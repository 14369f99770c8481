"""One leanprover-community REPL process, driven over its pipes with asyncio.

Protocol (REPL v4.32.0 `REPL/Main.lean`): a command is one JSON object on one line, then a blank
line; a reply is one JSON value (pretty-printed over many lines), then a blank line. The driver only
sends commands it built itself with `json.dumps` (a stray blank line or malformed JSON makes the
REPL exit). It reads stdout in chunks, not lines, so a reply of many megabytes is fine.

Nothing the worker prints is trusted: a submission can make a child write to the REPL's stdout. So
the worker is killed and the request fails with `ReplProtocolError` (the pool retries it elsewhere)
when it prints while no command is in flight, prints more than one value for a command, prints
something that is not JSON, or answers with an env or proof-state id other than the next one the
REPL would hand out (it numbers both from 0 and never frees one). A forged reply that carries the
right id and comes before the real one cannot be told apart here; the real reply then arrives while
idle and kills the worker, and the verdict never rests on REPL output alone (the audit decides).

Each reply is read once, here, into a `ReplReply` (`proofgate.lean.reply`); a value of the wrong
shape (a list where an object belongs, a string id, an unknown severity) is garbage output too.

Nothing a command starts outlives it: once `mark_baseline` has recorded the worker's own processes
(the pool and the sessions call it after the header import, before any submission runs), every
other process in the worker's tree and cgroup is killed after each reply, before the next command
can be sent; a worker still holding more processes than its baseline after `STRAY_GRACE_SECONDS` is
`tainted`, and its owner recycles it after the request.

Older REPL versions speak a little differently (`proofgate.lean.protocol`; the driver is given the
`ReplProtocol` of its environment's REPL): a reply without `usedConstants` or `proofStatus` reads
as one with none; an option the REPL lacks (`rootGoals`, `env` in file mode), which it would ignore
without a word, is refused before anything is sent; a REPL that never flushes its replies (before
v4.10.0) is started line-buffered by the launcher (`stdbuf -oL`), the driver reading it as any other.

Errors: `ReplCommandError` for a `{"message": ...}` reply (the worker stays usable);
`ReplTimeout`, `ReplOutOfMemory`, `ReplCrashed`, `ReplProtocolError` each kill the whole process
tree first. Each carries the tail of the worker's stderr, which is always drained.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from proofgate.exceptions import (
    ReplCommandError,
    ReplCrashed,
    ReplError,
    ReplOutOfMemory,
    ReplProtocolError,
    ReplTimeout,
    SubmissionError,
)
from proofgate.lean.protocol import CURRENT, ReplProtocol
from proofgate.lean.reply import ReplRefusal, ReplReply, parse_reply
from proofgate.sandbox.pipes import READ_CHUNK, ChildReaders, Frames, FrameTooLarge
from proofgate.sandbox.process import Launch, ManagedProcess

__all__ = ["WORKER_LOST", "ReplProcess"]

#: The errors that mean the worker is gone through no fault of the request (it exited, was killed,
#: or printed garbage): the pool and the sessions retry such a request once on a fresh worker.
WORKER_LOST: tuple[type[ReplError], ...] = (ReplCrashed, ReplProtocolError)

#: A reply larger than this is treated as a fault (a REPL answer is rarely over a few MB).
MAX_REPLY_BYTES = 256 * 2**20
#: How much of the worker's stderr is kept for diagnostics.
STDERR_TAIL_BYTES = 64 * 1024
#: Seconds between two looks at a busy worker's private memory.
MEMORY_POLL_SECONDS = 0.25
#: Seconds the driver waits for the last bytes of a worker that exited.
EXIT_GRACE_SECONDS = 1.0
#: Seconds `close()` waits for the killed process to be reaped.
CLOSE_WAIT_SECONDS = 5.0
#: Seconds the strays a command left behind get to vanish once killed, before the worker is tainted.
STRAY_GRACE_SECONDS = 1.0
STRAY_POLL_SECONDS = 0.01


def _command_kind(command: dict[str, Any]) -> str:
    """Which REPL input shape `command` is, in the order the REPL's `parse` tries them."""
    if "tactic" in command and "proofState" in command:
        return "tactic"
    if "pickleTo" in command:
        return "pickle_env" if "env" in command else "pickle_proof_state"
    if "unpickleEnvFrom" in command:
        return "unpickle_env"
    if "unpickleProofStateFrom" in command:
        return "unpickle_proof_state"
    if "cmd" in command or "path" in command:
        return "cmd"
    raise ValueError(f"not a REPL command: keys {sorted(command)}")


class ReplProcess:
    """A running REPL: one command at a time, replies checked, the whole tree killed on any fault."""

    def __init__(
        self,
        process: ManagedProcess,
        *,
        memory_limit_bytes: int | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        protocol: ReplProtocol = CURRENT,
    ) -> None:
        self._process = process
        self.protocol = protocol  # what this REPL's version speaks
        self.pid: int = process.pid
        self.started_at = time.monotonic()
        self.requests = 0  # replies received
        self.commands_sent = 0  # commands written (a dead worker refuses before writing)
        self._memory_limit = memory_limit_bytes
        self._max_reply_bytes = max_reply_bytes
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[ReplReply | ReplRefusal] | None = None
        self._watch_handle: asyncio.TimerHandle | None = None
        self._failure: ReplError | None = None
        self._next_env = 0
        self._next_proof_state = 0
        self._baseline_marked = False
        self.tainted = False  # processes beyond its baseline survived a command: recycle it
        self.strays_killed = 0
        self._readers = ChildReaders(
            process,
            name=f"repl-{self.pid}",
            stderr_limit=STDERR_TAIL_BYTES,
            read_stdout=self._read_stdout,
            watch_exit=self._watch_exit,
        )

    @classmethod
    async def start(
        cls,
        launch: Launch,
        *,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        protocol: ReplProtocol = CURRENT,
    ) -> ReplProcess:
        """Spawn a REPL; its memory cap is `launch.limits.memory_bytes` (checked by the spawner
        and here). `protocol`: what its version speaks (`proofgate.lean.protocol.protocol_for`)."""
        process = await launch.spawn()
        return cls(
            process,
            memory_limit_bytes=launch.limits.memory_bytes,
            max_reply_bytes=max_reply_bytes,
            protocol=protocol,
        )

    # --- state ---------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._failure is None and self._process.returncode is None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process ended (negative: killed by that signal)."""
        return self._process.returncode

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def failure(self) -> ReplError | None:
        """Why the worker stopped (None while it is alive)."""
        return self._failure

    @property
    def next_env(self) -> int:
        return self._next_env

    def on_exit(self, callback: Callable[[], object]) -> None:
        """Call `callback()` once the worker has stopped (exited, killed or closed)."""
        self._readers.exit_task.add_done_callback(lambda _: callback())

    def stderr_tail(self) -> str:
        return self._readers.stderr.text()

    @property
    def stderr_bytes(self) -> int:
        """How many bytes the worker wrote to its stderr in all."""
        return self._readers.stderr.total

    def private_memory_bytes(self) -> int | None:
        return self._process.private_memory_bytes()

    def mark_baseline(self) -> None:
        """Record the worker's processes now as its own; from here on, whatever else a command
        leaves in its tree or cgroup is killed after the command. Call it while idle, before
        anything untrusted ran (after the header import)."""
        self._process.mark_baseline()
        self._baseline_marked = True

    async def _kill_strays(self) -> None:
        """Kill what the last command left behind; taint the worker if some of it stays."""
        if not self._baseline_marked or not self.alive:
            return  # a dead worker's whole tree is killed anyway
        # In a thread: without a cgroup, finding the tree reads every process on the host.
        killed = await asyncio.to_thread(self._process.kill_strays)
        if not killed:
            return
        self.strays_killed += killed
        deadline = time.monotonic() + STRAY_GRACE_SECONDS
        while (left := await asyncio.to_thread(self._process.strays)) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(STRAY_POLL_SECONDS)
            await asyncio.to_thread(self._process.kill_strays)
        if left:
            self.tainted = True

    # --- requests ------------------------------------------------------------------------

    async def command(
        self,
        code: str,
        *,
        env: int | None = None,
        all_tactics: bool = False,
        root_goals: bool = False,
        infotree: str | None = None,
        timeout: float | None = None,
    ) -> ReplReply:
        """Run Lean commands (`{"cmd"}`), on top of env `env` or, if None, in a fresh one."""
        request: dict[str, Any] = {"cmd": code}
        if env is not None:
            request["env"] = env
        if all_tactics:
            request["allTactics"] = True
        if root_goals:
            request["rootGoals"] = True
        if infotree is not None:
            request["infotree"] = infotree
        return await self.send(request, timeout=timeout)

    async def tactic(
        self, tactic: str, proof_state: int, *, timeout: float | None = None
    ) -> ReplReply:
        """Run one tactic in a proof state (`{"tactic", "proofState"}`)."""
        return await self.send({"tactic": tactic, "proofState": proof_state}, timeout=timeout)

    async def send(self, command: dict[str, Any], *, timeout: float | None = None) -> ReplReply:
        """Send one command and return its reply; see the module docstring for what raises."""
        kind = _command_kind(command)
        self._refuse_unsupported(command)
        try:
            data = json.dumps(command, ensure_ascii=False).encode("utf-8") + b"\n\n"
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise SubmissionError(f"cannot send this to Lean: {exc}", field="code") from exc
        deadline = None if timeout is None else time.monotonic() + timeout
        async with self._lock:
            if self._failure is not None or self._process.returncode is not None:
                reason = self._failure or self._exit_error("it exited")
                raise ReplCrashed(
                    f"REPL {self.pid} is no longer running: {reason}", stderr=self.stderr_tail()
                )
            try:
                reply = await self._exchange(data, deadline, timeout)
            finally:
                await self._kill_strays()
            self.requests += 1
            return self._check_reply(kind, command, reply)

    def _refuse_unsupported(self, command: dict[str, Any]) -> None:
        """An option this REPL version lacks would be ignored without a word: refuse it here."""
        protocol = self.protocol
        lacking = []
        if command.get("rootGoals") and not protocol.root_goals:
            lacking.append("rootGoals")
        if "path" in command and "env" in command and not protocol.file_env:
            lacking.append("env in file mode")
        if lacking:
            raise ReplCommandError(
                f"the REPL {protocol.version} has no {' and no '.join(lacking)} (it would ignore "
                "it): nothing was sent; use an environment whose REPL is v4.19.0 or later for "
                "rootGoals, v4.22.0 or later for env in file mode"
            )

    async def _exchange(
        self, data: bytes, deadline: float | None, timeout: float | None
    ) -> ReplReply | ReplRefusal:
        """Write one command and await its reply. The reply future is awaited directly, with a
        timer for the deadline and the memory cap: no helper task or `asyncio.wait` per command,
        each of which costs the event loop extra passes on every request."""
        future: asyncio.Future[ReplReply | ReplRefusal] = asyncio.get_running_loop().create_future()
        self._pending = future
        try:
            try:
                self.commands_sent += 1
                self._process.stdin.write(data)
            except (ConnectionError, OSError, RuntimeError) as exc:
                self._die(self._exit_error(f"its stdin closed ({exc})"))
            transport = getattr(self._process.stdin, "transport", None)
            if not future.done() and (transport is None or transport.get_write_buffer_size() > 0):
                await self._drain(future, deadline)  # a command larger than the pipe holds
            self._watch(future, deadline, timeout)
            return await future
        except asyncio.CancelledError:
            # The caller gave up mid-command: the REPL's state is unknown, so it cannot be reused.
            self._pending = None
            self._die(
                ReplCrashed(
                    "request cancelled while the REPL was working", stderr=self.stderr_tail()
                )
            )
            raise
        finally:
            self._pending = None
            if self._watch_handle is not None:
                self._watch_handle.cancel()
                self._watch_handle = None

    async def _drain(
        self, future: asyncio.Future[ReplReply | ReplRefusal], deadline: float | None
    ) -> None:
        """Wait until the pipe took the whole command, or the reply (or the worker's death) came."""
        drain = asyncio.ensure_future(self._process.stdin.drain())
        either: set[asyncio.Future[Any]] = {drain, future}
        await asyncio.wait(
            either, timeout=self._remaining(deadline), return_when=asyncio.FIRST_COMPLETED
        )
        if not drain.done():
            drain.cancel()
        elif drain.exception() is not None and not future.done():
            self._die(self._exit_error(f"its stdin closed ({drain.exception()})"))

    def _watch(
        self,
        future: asyncio.Future[ReplReply | ReplRefusal],
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        """Every `MEMORY_POLL_SECONDS` while `future` is pending: the memory cap, then the deadline."""
        if future.done():
            return
        remaining = self._remaining(deadline)
        if remaining is not None and remaining <= 0:
            self._die(
                ReplTimeout(
                    f"no reply within {timeout:g} s: the worker and its process tree were killed",
                    stderr=self.stderr_tail(),
                )
            )
            return
        wait = MEMORY_POLL_SECONDS if remaining is None else min(remaining, MEMORY_POLL_SECONDS)
        self._watch_handle = asyncio.get_running_loop().call_later(
            wait, self._look, future, deadline, timeout
        )

    def _look(
        self,
        future: asyncio.Future[ReplReply | ReplRefusal],
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        self._watch_handle = None
        if not future.done():
            self._check_memory()
        self._watch(future, deadline, timeout)

    @staticmethod
    def _remaining(deadline: float | None) -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    def _check_memory(self) -> None:
        if self._memory_limit is None:
            return
        used = self._process.private_memory_bytes()
        if used is not None and used > self._memory_limit:
            self._die(
                ReplOutOfMemory(
                    f"the worker used {used / 2**20:.0f} MiB of private memory, over its "
                    f"{self._memory_limit / 2**20:.0f} MiB cap; it was killed",
                    stderr=self.stderr_tail(),
                )
            )

    def _check_reply(
        self, kind: str, command: dict[str, Any], reply: ReplReply | ReplRefusal
    ) -> ReplReply:
        """Check the ids in `reply` are the next ones this REPL hands out, then count them."""
        if isinstance(reply, ReplRefusal):
            raise ReplCommandError(reply.message, stderr=self.stderr_tail())
        new_proof_states = [s.proof_state for s in reply.sorries if s.proof_state is not None]
        new_envs: list[int | None] = []
        if kind == "cmd" or kind == "unpickle_env":
            new_envs = [reply.env]
            new_proof_states += [t.proof_state for t in reply.tactics if t.proof_state is not None]
        elif kind == "pickle_env":
            if reply.env != command.get("env"):
                self._forged(f"pickling env {command.get('env')} answered env {reply.env!r}")
        elif reply.proof_state is None:
            self._forged("a proof-state reply without a proofState")
        else:
            new_proof_states.append(reply.proof_state)
        expected_envs = list(range(self._next_env, self._next_env + len(new_envs)))
        expected_states = list(
            range(self._next_proof_state, self._next_proof_state + len(new_proof_states))
        )
        if new_envs != expected_envs:
            self._forged(f"env ids {new_envs}, expected {expected_envs}")
        if new_proof_states != expected_states:
            self._forged(f"proof state ids {new_proof_states}, expected {expected_states}")
        self._next_env += len(new_envs)
        self._next_proof_state += len(new_proof_states)
        return reply

    def _forged(self, detail: str) -> None:
        error = ReplProtocolError(
            f"the REPL's reply does not follow its own numbering ({detail}): forged or corrupt output, "
            "the worker was killed",
            stderr=self.stderr_tail(),
        )
        self._die(error)
        raise error

    # --- the worker's death --------------------------------------------------------------

    def _die(self, error: ReplError) -> None:
        """Record why the worker stops (first reason wins), kill its tree, fail any request."""
        if self._failure is None:
            self._failure = error
        self._process.kill()
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_exception(self._failure)

    def _exit_error(self, how: str) -> ReplError:
        tail = self.stderr_tail()
        if self._process.out_of_memory():
            return ReplOutOfMemory(
                f"the worker went over its private memory cap and was killed ({how})", stderr=tail
            )
        code = self._process.returncode
        status = (
            "still running"
            if code is None
            else (f"killed by signal {-code}" if code < 0 else f"exit status {code}")
        )
        last = tail.strip().splitlines()[-1:] or ["no stderr"]
        return ReplCrashed(
            f"the REPL stopped: {how}, {status}; last stderr line: {last[0][:300]}",
            stderr=tail,
            signal=-code if code is not None and code < 0 else None,
        )

    async def _read_stdout(self) -> None:
        frames = Frames(b"\n\n", self._max_reply_bytes)  # a reply ends with a blank line
        stream = self._process.stdout
        while chunk := await stream.read(READ_CHUNK):
            if self._failure is not None:
                continue  # dead: keep draining so nothing blocks on a full pipe
            if self._pending is None:
                self._die(
                    ReplProtocolError(
                        f"the REPL printed while idle ({bytes(chunk[:120])!r}): forged output, the worker was killed",
                        stderr=self.stderr_tail(),
                    )
                )
                continue
            try:
                framed = frames.feed(chunk)
            except FrameTooLarge:
                self._die(
                    ReplProtocolError(
                        f"reply over {self._max_reply_bytes} bytes", stderr=self.stderr_tail()
                    )
                )
                continue
            if framed is not None:
                self._deliver(*framed)

    def _deliver(self, frame: bytes, rest: bytes) -> None:
        if rest:
            reason = f"more than one value for one command (then {rest[:120]!r})"
        else:
            try:
                reply = parse_reply(json.loads(frame.decode("utf-8")))
            except UnicodeDecodeError as exc:
                reason = f"a reply that is not one JSON value ({exc}; starts {frame[:120]!r})"
            except ValueError as exc:  # json's errors are ValueErrors too
                shown = (
                    "not one JSON value" if isinstance(exc, json.JSONDecodeError) else "malformed"
                )
                reason = f"a reply that is {shown} ({exc}; starts {frame[:120]!r})"
            else:
                pending, self._pending = self._pending, None
                if pending is not None and not pending.done():
                    pending.set_result(reply)
                return
        self._die(
            ReplProtocolError(
                f"the REPL printed {reason}: the worker was killed", stderr=self.stderr_tail()
            )
        )

    async def _watch_exit(self) -> None:
        """When the REPL exits or closes stdout: reap its group, take its last words, fail the request."""
        waiting = asyncio.ensure_future(self._process.wait())
        try:
            await asyncio.wait(
                {waiting, self._readers.stdout_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if not waiting.done():
                await asyncio.wait({waiting}, timeout=EXIT_GRACE_SECONDS)
            self._process.kill()  # orphans in the group would hold the pipes open
            await self._readers.last_words(EXIT_GRACE_SECONDS)
            self._die(self._exit_error("it exited" if waiting.done() else "it closed its stdout"))
        finally:
            waiting.cancel()

    def kill(self) -> None:
        """Kill the process tree now (synchronous); `close()` also waits for the readers."""
        self._die(self._failure or ReplCrashed("the worker was killed", stderr=self.stderr_tail()))

    async def close(self) -> None:
        """Kill the process tree and wait for the readers; idempotent."""
        if self._failure is None:
            self._failure = ReplCrashed("the worker was closed", stderr=self.stderr_tail())
        self._die(self._failure)
        await self._readers.reap(
            readers_timeout=2 * EXIT_GRACE_SECONDS + 1,  # the exit watcher's two grace periods
            exit_timeout=CLOSE_WAIT_SECONDS,
        )
