"""The request log: probes (ours and the Kimina-compatible `/health`) at debug, the rest at info."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from proofgate.api.middleware import RequestContextMiddleware


def _ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.mark.parametrize(
    ("path", "level"),
    [("/healthz", "debug"), ("/health", "debug"), ("/readyz", "debug"), ("/v1/check", "info")],
)
def test_probes_are_logged_at_debug_and_requests_at_info(path: str, level: str) -> None:
    app = Starlette(routes=[Route(path, _ok)])
    app.add_middleware(RequestContextMiddleware)
    with capture_logs() as logs, TestClient(app) as client:
        assert client.get(path).status_code == 200
    lines = [line for line in logs if line["event"] == "request"]
    assert [line["log_level"] for line in lines] == [level]
