"""Logging: the standard library's records in proofgate's formats (issue 30, defect 7)."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest

from proofgate.logs import configure_logging, stdlib_logging_config


def _record(name: str, message: str, args: tuple[object, ...] = ()) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_uvicorns_access_line_is_json_with_its_fields() -> None:
    config = stdlib_logging_config("info", json=True)
    formatter = config["formatters"]["structlog"]["()"](json=True)
    access = '%s - "%s %s HTTP/%s" %d'
    line = formatter.format(
        _record("uvicorn.access", access, ("127.0.0.1:5", "GET", "/healthz", "1.1", 200))
    )
    assert json.loads(line) | {"timestamp": "t"} == {
        "event": "http_request",
        "client": "127.0.0.1:5",
        "method": "GET",
        "path": "/healthz",
        "http_version": "1.1",
        "status": 200,
        "level": "info",
        "logger": "uvicorn.access",
        "timestamp": "t",
    }
    error = json.loads(
        formatter.format(_record("uvicorn.error", "Started server process [%d]", (7,)))
    )
    assert error["event"] == "Started server process [7]" and error["logger"] == "uvicorn.error"


def test_plain_lines_for_people() -> None:
    formatter = stdlib_logging_config("info", json=False)["formatters"]["structlog"]["()"](
        json=False
    )
    assert formatter.format(_record("mcp", "hello %s", ("you",))) == "info: hello you logger=mcp"


def test_the_http_clients_per_request_lines_are_off_unless_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    logging.getLogger("httpx").info("HTTP Request: POST http://x/v1/check")
    logging.getLogger("proofgate.test").info("kept")
    err = capsys.readouterr().err
    assert "HTTP Request" not in err and json.loads(err)["event"] == "kept"
    configure_logging("debug", json=True)
    logging.getLogger("httpx").info("HTTP Request: POST http://x/v1/check")
    assert "HTTP Request" in capsys.readouterr().err
    configure_logging("warning", json=True)
