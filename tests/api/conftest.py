"""Fixtures for the HTTP layer: the app under real uvicorn, in this process, with either a fake
service injected (`live`) or the stand-in stack behind it (`stack`, `serve_stack`, `url`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import structlog

from proofgate.api.app import create_app
from proofgate.config import Settings
from tests.support.fake_service import FakeCheckerService, FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> Iterator[None]:
    """The server runs in this process: keep its request logs out of captured stdout."""
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@dataclass
class LiveApp:
    url: str
    service: FakeCheckerService
    http: httpx.Client


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveApp]:
    service = FakeServiceWithPool()
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        with httpx.Client(base_url=url, timeout=10.0) as http:
            yield LiveApp(url=url, service=service, http=http)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    """The real pool, auditor and store on stand-ins (tests/support/stack.py)."""
    return make_stack(tmp_path)


def serve_stack(stack: Stack) -> AbstractContextManager[str]:
    """The app on a new service of `stack`, under real uvicorn; yields its base URL."""
    return run_app(create_app(stack.settings, service=stack.service()), timeout=20)


@pytest.fixture
def url(stack: Stack) -> Iterator[str]:
    """The base URL of the app serving `stack` for the whole test."""
    with serve_stack(stack) as served:
        yield served
