"""The REPL tests' own guard: no stand-in process may outlive the suite."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest

from tests.standins.repl import standin_processes


@pytest.fixture(scope="session", autouse=True)
def _no_orphan_standins() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5.0
    left = standin_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = standin_processes()
    for pid in left:  # clean up, then fail: a leak is a bug even if we can mop it up
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    if left:
        pytest.fail(f"stand-in REPL processes outlived the suite: {left}")
