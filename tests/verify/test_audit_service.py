"""The audit's promises through `POST /v1/check`: the real service, pool and auditor on the
stand-in REPL, compiler and checker (tests/support/stack.py), under real uvicorn.

The locked statement's reference is compiled from the statement, never from the submission, so a
submission that states something else is `statement_mismatch`; and a compile killed from outside
is `internal`, never a cached `failed`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from proofgate.api.app import create_app
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> Iterator[None]:
    """The server runs in this process: keep its request logs out of captured stdout."""
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path)


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        with httpx.Client(base_url=url, timeout=60.0) as client:
            yield client


def check(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/check", json=body)
    assert response.status_code == 200, response.text
    verdict: dict[str, Any] = response.json()
    return verdict


def test_an_honest_proof_is_proved(http: httpx.Client) -> None:
    verdict = check(http, statement=STATEMENT, code=HONEST)
    assert verdict["status"] == "proved", verdict["reason"]


@pytest.mark.parametrize(
    "code",
    [
        HONEST.replace("a + b = b + a := Nat.add_comm a b", "a + 0 = a := Nat.add_zero a"),
        HONEST.replace("(a b : ℕ)", "(a b : ℤ)").replace("Nat.add_comm", "Int.add_comm"),
    ],
    ids=["other-proposition", "other-type"],
)
def test_a_submission_stating_something_else_is_a_statement_mismatch(
    http: httpx.Client, code: str
) -> None:
    verdict = check(http, statement=STATEMENT, code=code)
    assert verdict["status"] == "statement_mismatch", verdict["reason"]


def test_a_compile_killed_from_outside_is_internal_and_never_cached(
    http: httpx.Client, tmp_path: Path
) -> None:
    killed = HONEST + "-- standin-compiler: crash\n"
    verdict = check(http, statement=STATEMENT, code=killed)
    assert verdict["status"] == "internal", verdict["reason"]
    assert "exit -9 (SIGKILL), then exit -9 (SIGKILL)" in verdict["reason"]
    again = check(http, statement=STATEMENT, code=killed)
    assert again["status"] == "internal" and not again["cached"]
    flag = tmp_path / "killed-once"
    once = check(
        http, statement=STATEMENT, code=HONEST + f"-- standin-compiler: crash-once {flag}\n"
    )
    assert once["status"] == "proved", once["reason"]
    assert flag.exists()
