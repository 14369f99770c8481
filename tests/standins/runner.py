"""A plain asyncio-subprocess runner with `proofgate.sandbox.run_jailed`'s signature.

It jails nothing: it lets the audit's tests drive stand-in programs without bubblewrap. It honours
the spec (argv, cwd, env), the timeout (killing the whole process group) and `max_output`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass

from proofgate.sandbox.process import Limits, Spawner, SpawnSpec


@dataclass(frozen=True)
class LocalResult:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    out_of_memory: bool
    duration_ms: int
    output_truncated: bool = False
    limit_exceeded: str | None = None


class NoSpawner:
    """The spawner argument `local_runner` ignores."""

    name = "none (test)"

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> object:
        raise AssertionError("local_runner starts processes itself")


async def local_runner(
    spawner: Spawner,
    spec: SpawnSpec,
    limits: Limits,
    *,
    timeout: float,
    stdin: bytes = b"",
    max_output: int = 16 << 20,
) -> LocalResult:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *spec.argv,
        cwd=spec.cwd,
        env={**spec.env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout)
    except asyncio.TimeoutError:
        timed_out = True
        stdout = stderr = b""
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
    truncated = len(stdout) > max_output or len(stderr) > max_output
    return LocalResult(
        returncode=process.returncode,
        stdout=stdout[:max_output],
        stderr=stderr[:max_output],
        timed_out=timed_out,
        out_of_memory=False,
        duration_ms=int((time.monotonic() - started) * 1000),
        output_truncated=truncated,
    )
