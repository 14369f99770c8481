"""The web console in a real browser: Playwright driving the system's Chromium against a real
proofgate app under uvicorn on 127.0.0.1, on the stand-in stack.

Playwright's own browser download is not used: the tests run the distribution's Chromium
(`apt-get install chromium fonts-noto-core`, as `.ci/run` does), found on PATH or at
$CHROMIUM_PATH. Without it (or without Playwright) they skip saying so; under CI the skip fails
the run (tests/support/ci_gate.py). Every request to another host than 127.0.0.1 is aborted and
recorded, so a page that needs the network shows it. Screenshots go to a temporary directory
(`scripts/console_screenshots.py` refreshes the README's).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

from proofgate.api.app import create_app
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

#: Every wait in these tests is bounded by this (milliseconds): a page event or a selector.
WAIT_MS = 15_000


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium under Playwright's sync API, for one test module: while it is open the thread
    has a running event loop, so a longer-lived one breaks every later test of the same worker
    that calls asyncio.run (under xdist, the other files that worker runs)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser tests need Playwright: pip install -e '.[test]'"
    )
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium on PATH (or at $CHROMIUM_PATH): `apt-get install chromium "
            "fonts-noto-core` (Playwright's own browser download is not used)"
        )
    arguments = ["--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        arguments.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=arguments)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Browsing:
    """A browser context limited to 127.0.0.1, and what it tried to reach elsewhere."""

    browser: Any
    blocked: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def page(self, **options: Any) -> Any:
        context = self.browser.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", self._only_loopback)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.blocked.append(f"page error: {error}"))
        return page

    def _only_loopback(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Any) -> Iterator[Browsing]:
    session = Browsing(browser)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    (tmp_path / "stack").mkdir()
    return make_stack(tmp_path / "stack")


@pytest.fixture
def server(stack: Stack) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1, on the stand-ins; its logs go to stderr."""
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    try:
        with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
            yield url
    finally:
        structlog.reset_defaults()


def open_console(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
