"""Under CI every test runs: a skip there is a failure, except for the `lean`- and `peer`-marked
tests (a Lean toolchain, or a peer service's checkout, that the CI machine cannot download).

A missing bubblewrap, a cgroup that cannot be written, absent shared/ data or an extra that does not
import would otherwise turn whole suites into skips and a red CI into a green one. On a developer's
machine the same tests still skip, saying why. CI is on when the `CI` variable is set to anything
but "", "0" or "false" (`.ci/run` exports CI=1).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.skips import fail_skip, is_plain_skip, switched_on

IN_CI = switched_on("CI")
_WHY = "skipped under CI, where every test but the `lean`- and `peer`-marked ones must run"
#: Markers of tests that may skip under CI: what they need cannot be fetched on the CI machine.
EXEMPT = ("lean", "peer")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    exempt = any(item.get_closest_marker(name) is not None for name in EXEMPT)
    if IN_CI and is_plain_skip(report) and not exempt:
        fail_skip(report, _WHY)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped:  # a module-level importorskip
        fail_skip(report, _WHY)
