"""A header worker: one REPL that elaborated a header, how it starts, and when it must go.

The pool's workers (`proofgate.lean.workers`) and the sessions' (`proofgate.lean.session_workers`)
are the same kind of process: keyed by `HeaderKey`, started by `WorkerStarter` (spawn, elaborate
the header, apply the environment's options, mark the baseline), recycled when `outgrown`, and
evicted by `eviction_victim` when another header needs the slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from proofgate.config import Settings
from proofgate.environments.registry import OPTIONS_FILE, Environment
from proofgate.exceptions import ConfigError, ProofgateError, ReplCrashed, SpawnFailed
from proofgate.lean.launch import ReplLauncher, worker_limits
from proofgate.lean.protocol import protocol_for
from proofgate.lean.repl import ReplProcess
from proofgate.lean.reply import ReplReply
from proofgate.sandbox.process import Launch, Limits, Spawner

__all__ = [
    "RECYCLE_MEMORY_FRACTION",
    "HeaderKey",
    "HeaderStarted",
    "StartFailed",
    "WorkerStarter",
    "eviction_victim",
    "outgrown",
    "start_header_worker",
]

#: A worker whose private memory passes this share of the cap is recycled after its request.
RECYCLE_MEMORY_FRACTION = 0.75

_W = TypeVar("_W")


class HeaderKey(NamedTuple):
    """Which workers may serve a body: its tenant's, of its environment and (normalized) header.
    A spare worker, pre-warmed and never handed out, has no tenant yet (`tenant` None)."""

    tenant: str | None
    environment: str
    header: str

    @property
    def spare(self) -> HeaderKey:
        """The key of the spare workers that could become this key's."""
        return self._replace(tenant=None)


def outgrown(repl: ReplProcess, limits: Limits) -> bool:
    """The worker's private memory passed `RECYCLE_MEMORY_FRACTION` of its cap: recycle it (a
    pool worker after its request, a session worker once its sessions have moved)."""
    used = repl.private_memory_bytes()
    cap = limits.memory_bytes
    return used is not None and cap is not None and used > RECYCLE_MEMORY_FRACTION * cap


def eviction_victim(
    idle: Iterable[_W],
    *,
    kept: Callable[[_W], tuple[bool, ...]],
    last_used: Callable[[_W], float],
) -> _W | None:
    """The worker that gives its slot to another header, the pool's and the sessions' alike: of
    the `idle` ones (nobody uses or waits for them), the least recently used, those the owner
    would rather `kept` (an active tenant's; a pre-warmed header; a session worker not being
    recycled: compared in that order, False first) only after every other. None when nothing is
    idle."""
    return min(idle, key=lambda worker: (kept(worker), last_used(worker)), default=None)


async def _close_when_started(starting: asyncio.Future[ReplProcess]) -> None:
    """Close a worker whose start was cancelled, once it exists; kill it if we are cancelled again."""
    try:
        repl = await asyncio.shield(starting)
    except asyncio.CancelledError:
        starting.add_done_callback(
            lambda done: None if done.cancelled() or done.exception() else done.result().kill()
        )
        return
    except (ProofgateError, OSError):
        return
    await repl.close()


@dataclass(frozen=True)
class HeaderStarted:
    """A live REPL that elaborated its header: `reply` is the header's own reply (its env, or its
    errors: then the caller closes `repl`), `seconds` how long the import took."""

    repl: ReplProcess
    reply: ReplReply
    seconds: float


@dataclass(frozen=True)
class StartFailed:
    """A header worker that did not start (its process, if any, is closed). `killed`: a signal
    ended it while it imported (an operator, the OOM killer), which is not the header's fault."""

    error: ProofgateError | OSError
    killed: bool = False


async def start_header_worker(
    spawner: Spawner,
    launcher: ReplLauncher,
    environment: Environment,
    header: str,
    *,
    limits: Limits,
    timeout: float,
) -> HeaderStarted | StartFailed:
    """Spawn one REPL for `environment` and elaborate `header` on it: the pool's workers and the
    sessions' start alike. Every header is elaborated, the empty one too (its env is the REPL's
    prelude-only env), so every body on the worker runs on the header's env. A cancelled start
    never loses a process being spawned."""
    repl: ReplProcess | None = None
    try:
        spec = launcher.spawn_spec(environment)
        protocol = protocol_for(environment.repl_version)  # what its REPL's version speaks
        starting = asyncio.ensure_future(
            ReplProcess.start(Launch(spawner, spec, limits), protocol=protocol)
        )
        try:
            repl = await asyncio.shield(starting)
        except asyncio.CancelledError:
            await _close_when_started(starting)
            raise
        began = time.monotonic()
        reply = await repl.command(header, timeout=timeout)
        if environment.lean_options and not reply.has_errors and reply.env is not None:
            reply = await _set_options(repl, environment, reply, timeout=timeout)
        repl.mark_baseline()  # its own processes: what any later command leaves is killed
    except (ProofgateError, OSError) as exc:
        if repl is None:  # a launcher killed before the program ran is not the header's fault
            return StartFailed(exc, killed=isinstance(exc, SpawnFailed) and exc.killed)
        await repl.close()  # killed from outside, or its exit not seen yet: not the header's fault
        code = repl.returncode
        return StartFailed(exc, killed=type(exc) is ReplCrashed and (code is None or code < 0))
    except asyncio.CancelledError:
        if repl is not None:
            await repl.close()
        raise
    return HeaderStarted(repl, reply, time.monotonic() - began)


async def _set_options(
    repl: ReplProcess, environment: Environment, header: ReplReply, *, timeout: float
) -> ReplReply:
    """The header's reply with its env replaced by the env the environment's option set makes
    (`Environment.option_commands`, run on the header's env): every body then runs under those
    options, at its own positions. Lean refusing an option is the operator's `ConfigError`."""
    reply = await repl.command(environment.option_commands(), env=header.env, timeout=timeout)
    if reply.has_errors or reply.env is None:
        refusal = "; ".join(m.data for m in reply.errors) or "no env in its reply"
        raise ConfigError(
            f"environment {environment.name!r}: Lean refuses its option set "
            f"({environment.lean_options}): {refusal}; fix {environment.directory / OPTIONS_FILE}"
        )
    return replace(header, env=reply.env)


@dataclass(frozen=True)
class WorkerStarter:
    """How header workers are started and when one has outgrown its caps: the spawner, the
    launcher and the limits that the pool's workers and the sessions' share."""

    spawner: Spawner
    launcher: ReplLauncher
    limits: Limits
    import_timeout: float

    @classmethod
    def from_settings(
        cls, settings: Settings, *, spawner: Spawner, launcher: ReplLauncher
    ) -> WorkerStarter:
        return cls(spawner, launcher, worker_limits(settings), settings.import_timeout)

    async def start(self, environment: Environment, header: str) -> HeaderStarted | StartFailed:
        """`start_header_worker` with these parts and the import timeout."""
        return await start_header_worker(
            self.spawner,
            self.launcher,
            environment,
            header,
            limits=self.limits,
            timeout=self.import_timeout,
        )

    def outgrown(self, repl: ReplProcess) -> bool:
        return outgrown(repl, self.limits)
