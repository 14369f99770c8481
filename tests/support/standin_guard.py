"""No stand-in REPL may outlive the test that started it, nor the suite.

After every test, the stand-ins still running under pytest (found by the `--tag` each carries) are
given the usual deadline to exit; any left then are killed and the test that leaked them fails, so
a leak is reported where it happens rather than at the end of the suite. At the end, the same holds
for every tagged stand-in on the machine (orphans that left pytest's tree included).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from tests.standins.repl import standin_children, standin_processes
from tests.support.waiting import DEADLINE_SECONDS


def _wait_until_none(find: Callable[[], list[int]], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    left = find()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = find()
    return left


def _kill(pids: list[int]) -> None:
    for pid in pids:  # clean up, then fail: a leak is a bug even if we can mop it up
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


@pytest.fixture(autouse=True)
def _no_standin_outlives_its_test() -> Iterator[None]:
    yield
    if not standin_children():
        return  # the common case costs one look at the process table
    gc.collect()  # an unclosed subprocess transport then warns in the test that leaked it
    left = _wait_until_none(standin_children, DEADLINE_SECONDS)
    _kill(left)
    if left:
        pytest.fail(f"stand-in REPL processes outlived the test: {left}")


@pytest.fixture(scope="session", autouse=True)
def _no_orphan_standins() -> Iterator[None]:
    yield
    left = _wait_until_none(standin_processes, DEADLINE_SECONDS)
    _kill(left)
    if left:
        pytest.fail(f"stand-in REPL processes (orphans included) outlived the suite: {left}")
