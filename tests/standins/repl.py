"""The simulated REPL as the tests start it: a real subprocess that speaks the REPL protocol.

Every process carries `--tag SESSION_TAG`, so `tests/support/standin_guard.py` can prove none outlives
the suite (orphaned grandchildren included).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from proofgate.bench.simulated_repl import SCRIPT, SimulatedReplLauncher
from proofgate.config import Settings
from proofgate.lean.repl import ReplProcess
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch, Limits, SpawnSpec

STANDIN_MODULE = "proofgate.bench.simulated_repl"
#: How a stand-in process shows in a command line: started with `-m` or as a file.
STANDIN_NAMES = (STANDIN_MODULE, "bench/simulated_repl.py")
SESSION_TAG = f"pytest-{os.getpid()}"


def standin_options(*options: str) -> list[str]:
    return [*options, "--tag", SESSION_TAG]


def standin_spec(workdir: Path, *options: str) -> SpawnSpec:
    """How to run the stand-in directly (no launcher), in `workdir`."""
    return SpawnSpec(
        argv=[sys.executable, SCRIPT, *standin_options(*options)],
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")},
    )


async def start_standin(
    workdir: Path, *options: str, memory_limit_bytes: int | None = None
) -> ReplProcess:
    """A driver on a fresh stand-in process, unjailed in its own process group."""
    limits = Limits(memory_bytes=memory_limit_bytes)
    return await ReplProcess.start(
        Launch(ProcessGroupSpawner(), standin_spec(workdir, *options), limits)
    )


def standin_launcher(settings: Settings, *options: str) -> SimulatedReplLauncher:
    """A pool launcher that starts the stand-in with `options`."""
    return SimulatedReplLauncher(settings, standin_options(*options))


def standin_children(*, recursive: bool = True) -> list[int]:
    """PIDs of live stand-in processes below this test process (when not `recursive`, only the
    ones the spawners started: children of this process's spawn server), found by this session's
    tag."""
    import psutil

    found = []
    if recursive:
        candidates = psutil.Process().children(recursive=True)
    else:
        candidates = [
            started
            for server in psutil.Process().children()
            if "spawn_server.py" in " ".join(_cmdline(server))
            for started in _children(server)
        ]
    for child in candidates:
        try:
            if SESSION_TAG in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.Error:
            pass
    return found


def _cmdline(process: Any) -> list[str]:
    import psutil

    try:
        return list(process.cmdline())
    except psutil.Error:
        return []


def _children(process: Any) -> list[Any]:
    import psutil

    try:
        return list(process.children())
    except psutil.Error:
        return []


def standin_processes() -> list[int]:
    """PIDs of live stand-in processes this test session started."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        mine = any(name in cmdline for name in STANDIN_NAMES) and SESSION_TAG in cmdline
        if mine and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process.pid)
    return found
