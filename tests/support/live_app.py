"""Run an ASGI app under real uvicorn, in this process, on a free loopback port.

For tests that inject a service (`create_app(settings, service=...)`); `tests.support.server`
runs the real `proofgate serve` as a subprocess instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from proofgate.api.server import uvicorn_config
from tests.support.server import free_port


@contextmanager
def run_app(app: object, *, timeout: float = 10.0, **options: object) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; yield its URL; shut it down (lifespan included).
    `options` are further `uvicorn_config` settings."""
    config = uvicorn_config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"uvicorn did not start within {timeout}s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
