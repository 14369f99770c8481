"""The bench's clock for the server's CPU: the scheduler's per-thread run time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from proofgate.bench.server import _scheduler_seconds


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_scheduler_time_counts_this_process_cpu_like_psutil_does() -> None:
    me = psutil.Process()
    before_precise, before_ticks = _scheduler_seconds(os.getpid()), sum(me.cpu_times()[:2])
    assert before_precise is not None
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU
        pass
    spent_precise = (_scheduler_seconds(os.getpid()) or 0) - before_precise
    spent_ticks = sum(me.cpu_times()[:2]) - before_ticks
    assert 0.28 <= spent_precise <= 1.0
    assert abs(spent_precise - spent_ticks) < 0.1
    assert _scheduler_seconds(2**22 + 12345) is None  # no such process
