"""Run `proofgate serve` as a real uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(
    env: dict[str, str] | None = None, *, args: tuple[str, ...] = (), timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Start the CLI's `serve` with `env` added; wait for /healthz; stop it (SIGTERM) afterwards."""
    port = free_port()
    full_env = dict(os.environ, PROOFGATE_HOST="127.0.0.1", PROOFGATE_PORT=str(port), **(env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "proofgate", "serve", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not answer /healthz within {timeout}s")
            time.sleep(0.1)
        yield RunningServer(url=url, process=process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()
