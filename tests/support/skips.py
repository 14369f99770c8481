"""What the two skip gates (`ci_gate`, `lean_gate`) share: reading their switch, and turning a
skip report into a failure that still says why the test skipped."""

from __future__ import annotations

import os

import pytest

__all__ = ["fail_skip", "is_plain_skip", "switched_on"]


def switched_on(variable: str) -> bool:
    """True when `variable` is set to anything but "", "0" or "false" (any case)."""
    return os.environ.get(variable, "").strip().lower() not in ("", "0", "false")


def is_plain_skip(report: pytest.TestReport | pytest.CollectReport) -> bool:
    """A skip, not an expected failure (`xfail` reports as skipped too)."""
    return report.skipped and not hasattr(report, "wasxfail")


def fail_skip(report: pytest.TestReport | pytest.CollectReport, why: str) -> None:
    """Make the skip `report` a failure: `why`, then the skip's own reason."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        reason = str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"{why}: {reason}"
