"""`PROOFGATE_REQUIRE_LEAN=1`: a `lean`-marked test that skips is a failure.

The real-Lean workflow sets it, so `python -m pytest -m lean` cannot pass there without the
toolchain, Mathlib, the REPL and the trusted checker (tests/conftest.py's skip names which is
missing), nor when a `lean` test skips itself or its module for any other reason. Without the
variable those tests skip, saying why, as on every development machine here. Set to anything but
"", "0" or "false" to turn it on. Follows tests/support/ci_gate.py, which does the same for the
other tests under CI.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.skips import fail_skip, is_plain_skip, switched_on

ENV = "PROOFGATE_REQUIRE_LEAN"

#: Read once, at start: tests/conftest.py's autouse fixture clears PROOFGATE_* during each test.
REQUIRED = switched_on(ENV)
_WHY = f"{ENV}=1, but a `lean` test did not run"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRED and is_plain_skip(report) and item.get_closest_marker("lean") is not None:
        fail_skip(report, _WHY)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    """A module of `lean` tests that skips as a whole (`pytestmark` plus a module-level skip)."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRED and report.skipped and _is_lean_module(collector):
        fail_skip(report, _WHY)


def _is_lean_module(collector: pytest.Collector) -> bool:
    if not isinstance(collector, pytest.Module):
        return False
    try:
        source = collector.path.read_text(encoding="utf-8")
    except OSError:
        return False
    return "pytest.mark.lean" in source
