"""A check's verdict and time are counted by one helper (`Metrics.timed`/`timed_with`) on every
route that checks: the time is the attempt that answered, a check that raises is not counted, and
the app's cache setting decides what a miss is. A stand-in clock makes the times exact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.api.kimina import _check_one
from proofgate.api.metrics import Metrics
from proofgate.config import Settings
from proofgate.exceptions import Busy
from proofgate.models import Submission, Verdict, VerdictStatus
from tests.api.test_metrics import _sample
from tests.support.fake_service import FakeServiceWithPool, judge
from tests.support.live_app import run_app

PROVED = Verdict(status=VerdictStatus.proved, kind="check")


def _ticks() -> Callable[[], float]:
    """A clock that moves one second each time it is read."""
    now = iter(range(1_000))
    return lambda: float(next(now))


def _seconds(metrics: Metrics, status: str) -> tuple[float | None, float | None]:
    """The check-duration histogram's (count, sum) for `status`."""
    text = metrics.render().decode()
    name = "proofgate_check_duration_seconds"
    label = f'status="{status}"'
    return _sample(text, name + "_count", label), _sample(text, name + "_sum", label)


async def _answer(verdict: Verdict, extra: Any = None) -> Any:
    return verdict if extra is None else (verdict, extra)


def test_timed_counts_the_verdict_and_the_checks_time() -> None:
    metrics = Metrics(clock=_ticks())
    assert asyncio.run(asyncio.wait_for(metrics.timed(_answer(PROVED)), 10)) is PROVED
    assert _seconds(metrics, "proved") == (1, 1.0)


def test_timed_with_returns_what_comes_with_the_verdict() -> None:
    metrics = Metrics(clock=_ticks())
    steps = ["intro", "exact h"]
    answered = asyncio.run(asyncio.wait_for(metrics.timed_with(_answer(PROVED, steps)), 10))
    assert answered == (PROVED, steps)
    assert _seconds(metrics, "proved") == (1, 1.0)


def test_a_check_that_raises_is_not_counted() -> None:
    async def busy() -> Verdict:
        raise Busy(retry_after=0)

    metrics = Metrics(clock=_ticks())
    with pytest.raises(Busy):
        asyncio.run(asyncio.wait_for(metrics.timed(busy()), 10))
    assert "proofgate_verdicts_total{" not in metrics.render().decode()


class _BusyOnce:
    """A service busy on its first check, then answering as the fake does."""

    def __init__(self) -> None:
        self.calls = 0

    async def check(self, submission: Submission, *, tenant: str) -> Verdict:
        self.calls += 1
        if self.calls == 1:
            raise Busy(retry_after=0)
        return judge(submission)


def test_kimina_counts_the_attempt_that_answered_not_the_busy_wait() -> None:
    """Chosen rule (the reward routes' already): Kimina's route counted from before its first
    attempt, busy waits included; now only the attempt that gave the verdict."""
    metrics = Metrics(clock=_ticks())
    http = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(metrics=metrics)))
    http.state = SimpleNamespace()
    service = _BusyOnce()
    checking = _check_one(
        service,  # type: ignore[arg-type]
        http,  # type: ignore[arg-type]
        "s1",
        "theorem a : True := trivial",
        environment="default",
        timeout=10,
        debug=False,
        infotree=None,
    )
    answer = asyncio.run(asyncio.wait_for(checking, 10))
    assert service.calls == 2 and answer.error is None
    assert _seconds(metrics, "compiled") == (1, 1.0)  # the clock read twice: one attempt


@pytest.mark.parametrize("enabled", [True, False])
def test_the_apps_cache_setting_decides_what_a_miss_is(settings: Settings, enabled: bool) -> None:
    configured = settings.model_copy(update={"cache_enabled": enabled})
    app = create_app(configured, service=FakeServiceWithPool())  # type: ignore[arg-type]
    with run_app(app) as url:
        checked = httpx.post(url + "/v1/check", json={"code": "theorem a : True := trivial"})
        assert checked.status_code == 200
        text = httpx.get(url + "/metrics").text
    assert _sample(text, "proofgate_verdicts_total", 'status="compiled"') == 1
    assert _sample(text, "proofgate_cache_misses_total") == (1 if enabled else 0)
