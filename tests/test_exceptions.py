"""The error tree drawn in `proofgate.exceptions`' docstring is the tree of its classes."""

from __future__ import annotations

import re

import pytest

from proofgate import exceptions
from proofgate.exceptions import Busy, ClientError, RemoteError, ServerError


def _drawn_parents() -> dict[str, str]:
    """Each class of the drawn tree, with the class it hangs under."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (exceptions.__doc__ or "").splitlines():
        found = re.match(r"^([ |]*)(?:\+-- )?([A-Z][A-Za-z]+)(\s|$)", line)
        if found is None or not hasattr(exceptions, found.group(2)):
            continue
        depth, name = len(found.group(1)), found.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = _drawn_parents()
    assert set(drawn) | {"ProofgateError"} == set(exceptions.__all__)
    for name, parent in drawn.items():
        assert getattr(exceptions, name).__bases__ == (getattr(exceptions, parent),), name


@pytest.mark.parametrize("kind", [ClientError, ServerError])
def test_a_remote_error_carries_the_status_and_the_request_id(kind: type[RemoteError]) -> None:
    error = kind("HTTP 418: no", status_code=418, request_id="req-1")
    assert isinstance(error, RemoteError)
    assert (str(error), error.status_code, error.request_id) == ("HTTP 418: no", 418, "req-1")
    unanswered = kind("unreachable")
    assert (unanswered.status_code, unanswered.request_id) == (None, None)


@pytest.mark.parametrize(
    ("retry_after", "cap", "slept"),
    [(0.0, 5.0, Busy.min_wait), (2.0, 5.0, 2.0), (60.0, 5.0, 5.0), (60.0, 30.0, 30.0)],
)
async def test_a_busy_answer_is_waited_out_at_least_min_wait_and_at_most_the_cap(
    monkeypatch: pytest.MonkeyPatch, retry_after: float, cap: float, slept: float
) -> None:
    """The kimina route, the job runner, the reward groups and the batch executors all wait
    through `Busy.wait`: a Retry-After of 0 never spins, a long one is cut to the caller's cap."""
    asked: list[float] = []

    async def record(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(exceptions.asyncio, "sleep", record)
    await Busy(retry_after=retry_after).wait(cap=cap)
    assert asked == [slept]
