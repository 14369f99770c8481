"""The REPL tests' own guard: no stand-in process may outlive its test, nor the suite."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.standins.repl import SESSION_TAG, standin_processes
from tests.support.waiting import DEADLINE_SECONDS


def _live_standin_children() -> list[int]:
    found = []
    for child in psutil.Process().children():
        try:
            if SESSION_TAG in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.Error:
            pass
    return found


def _wait_until_none(find: object, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    left = find()  # type: ignore[operator]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = find()  # type: ignore[operator]
    return left  # type: ignore[no-any-return]


def _kill(pids: list[int]) -> None:
    for pid in pids:  # clean up, then fail: a leak is a bug even if we can mop it up
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


@pytest.fixture(autouse=True)
def _no_standin_outlives_its_test() -> Iterator[None]:
    yield
    gc.collect()  # an unclosed subprocess transport then warns in the test that leaked it
    left = _wait_until_none(_live_standin_children, DEADLINE_SECONDS)
    _kill(left)
    if left:
        pytest.fail(f"stand-in REPL workers outlived the test: {left}")


@pytest.fixture(scope="session", autouse=True)
def _no_orphan_standins() -> Iterator[None]:
    yield
    left = _wait_until_none(standin_processes, DEADLINE_SECONDS)
    _kill(left)
    if left:
        pytest.fail(f"stand-in REPL processes (orphans included) outlived the suite: {left}")
