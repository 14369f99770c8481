"""Fixtures for the HTTP layer: the app under real uvicorn, with a fake service injected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import Settings
from tests.support.fake_service import FakeCheckerService, FakeServiceWithPool
from tests.support.live_app import run_app


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
