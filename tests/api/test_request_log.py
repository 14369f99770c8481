"""The request log: probes (ours and the Kimina-compatible `/health`) at debug, the rest at info."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from proofgate.api import middleware
from proofgate.api.middleware import RequestContextMiddleware


class RecordingLog:
    """Stands in for the middleware's logger (structlog may cache the real one)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event, fields))


def _ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.mark.parametrize(
    ("path", "level"),
    [("/healthz", "debug"), ("/health", "debug"), ("/readyz", "debug"), ("/v1/check", "info")],
)
def test_probes_are_logged_at_debug_and_requests_at_info(
    path: str, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = RecordingLog()
    monkeypatch.setattr(middleware, "_log", log)
    app = Starlette(routes=[Route(path, _ok)])
    app.add_middleware(RequestContextMiddleware)
    with TestClient(app) as client:
        assert client.get(path).status_code == 200
    assert [(lvl, fields["path"]) for lvl, event, fields in log.lines if event == "request"] == [
        (level, path)
    ]
