"""benchmarks/loop_profile.py's reading of py-spy's raw stacks (the profile itself needs py-spy
and a bench run, so it is a benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from proofgate.config import SOURCE_ROOT

RAW = """\
thread (10): MainThread;main (server.py:1);BaseEventLoop._run_once (base_events.py:1);select (selectors.py:468) 90
thread (10): MainThread;main (server.py:1);Auditor._run (proofgate/verify/audit.py:3);Path.mkdir (pathlib.py:1116) 6
thread (10): MainThread;main (server.py:1);start (launch.py:9);Popen._execute_child (subprocess.py:1883) 4
thread (11): asyncio_0;Thread.run (threading.py:982);Popen._execute_child (subprocess.py:1883) 50
"""


@pytest.fixture(scope="module")
def loop_profile() -> ModuleType:
    path = SOURCE_ROOT / "benchmarks" / "loop_profile.py"
    spec = importlib.util.spec_from_file_location("loop_profile_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_only_the_named_threads_samples_are_read(loop_profile: ModuleType) -> None:
    rows = loop_profile.stacks(RAW, "MainThread")
    assert [count for _, count in rows] == [90, 6, 4]
    assert rows[0][0][0] == "main (server.py:1)"  # the thread's label is not a frame


def test_process_starts_on_the_loop_thread_are_counted_and_waits_are_not_busy(
    loop_profile: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = loop_profile.summarize(loop_profile.stacks(RAW, "MainThread"), "loop", 5)
    assert starts == 4  # the other thread's 50 are not the loop's
    printed = capsys.readouterr().out
    assert "100 samples, busy 10 (10.0%)" in printed
    assert "60.0%  Path.mkdir" in printed  # innermost
    assert "60.0%  Auditor._run" in printed  # proofgate's own (audit.py is under proofgate/)
    assert loop_profile.summarize(loop_profile.stacks(RAW, "asyncio_0"), "other", 5) == 50


def test_the_script_is_where_the_readme_says(loop_profile: ModuleType) -> None:
    readme = (SOURCE_ROOT / "README.md").read_text()
    assert "python benchmarks/loop_profile.py" in readme
    assert Path(loop_profile.__file__).name == "loop_profile.py"
