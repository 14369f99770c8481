"""Logging: the server's one JSON object a line, cheap per request; the CLI's plain lines for people.

proofgate's own events go through structlog straight to stderr. The standard library's loggers
(uvicorn's error and access logs, httpx, the MCP framework) are rendered by the same processors
through structlog's stdlib integration (`ProcessorFormatter`), so one process writes one format.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger", "stdlib_logging_config"]

#: Libraries whose INFO lines are one per request (httpx: "HTTP Request: POST ..."); they log
#: warnings and up unless proofgate logs at debug.
CHATTY_LOGGERS = ("httpx", "httpcore")


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at write time, so a logger cached while a CLI runner had
    swapped stderr never writes to that runner's closed stream later."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _plain(_logger: Any, _method: str, event_dict: structlog.typing.EventDict) -> str:
    """`level: event key=value ...`, for a person reading a terminal (no timestamp, no colour)."""
    level = event_dict.pop("level", "info")
    event = event_dict.pop("event", "")
    event_dict.pop("timestamp", None)
    fields = " ".join(f"{key}={value}" for key, value in event_dict.items())
    return f"{level}: {event}" + (f" {fields}" if fields else "")


def _renderer(json: bool) -> structlog.typing.Processor:
    return structlog.processors.JSONRenderer() if json else _plain


def _access_fields(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """uvicorn's access line as fields (client, method, path, status), not one formatted string."""
    args = event_dict.pop("positional_args", None)
    record = event_dict.get("_record")
    if record is None or record.name != "uvicorn.access" or not isinstance(args, tuple):
        return event_dict
    if len(args) == 5:
        client, method, path, version, status = args
        event_dict.update(
            event="http_request",
            client=client,
            method=method,
            path=path,
            http_version=version,
            status=status,
        )
    return event_dict


def _foreign_chain() -> list[structlog.typing.Processor]:
    """What a standard-library record goes through before the renderer."""
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _access_fields,
    ]


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """`ProcessorFormatter` for the standard library's records, JSON or plain."""

    def __init__(self, *, json: bool = True) -> None:
        super().__init__(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _renderer(json),
            ],
            foreign_pre_chain=_foreign_chain(),
            pass_foreign_args=True,  # uvicorn's access fields, read by _access_fields
        )


def _handler() -> logging.Handler:
    return logging.StreamHandler(_CurrentStderr())  # writes and flushes, all a stream handler needs


def stdlib_logging_config(level: str = "info", *, json: bool = True) -> dict[str, Any]:
    """uvicorn's `log_config` (a `logging.config.dictConfig` dict): its error and access loggers
    write through structlog's formatter, JSON or plain, to stderr, in place of its own lines."""
    numeric = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": _Formatter, "json": json}},
        "handlers": {"stderr": {"()": _handler, "formatter": "structlog"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": numeric, "propagate": False},
            # uvicorn's own handlers on these are replaced: their records reach "uvicorn"'s once.
            "uvicorn.error": {"handlers": [], "level": numeric, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": numeric, "propagate": True},
        },
    }


_root_handler: logging.Handler | None = None


def _configure_stdlib(level: str, *, json: bool) -> None:
    """The root logger writes through structlog's formatter (one handler of ours, replaced on each
    call; others' handlers, as pytest's, are left); the chatty libraries log warnings and up."""
    global _root_handler
    root = logging.getLogger()
    if _root_handler is not None:
        root.removeHandler(_root_handler)
    _root_handler = _handler()
    _root_handler.setFormatter(_Formatter(json=json))
    root.addHandler(_root_handler)
    root.setLevel(level.upper())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel("DEBUG" if level.upper() == "DEBUG" else "WARNING")


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Log at `level` and up to stderr: JSON (the server) or plain `level: event` lines (the CLI),
    proofgate's events and the standard library's records alike."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _renderer(json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]  # writes and flushes only
        cache_logger_on_first_use=True,
    )
    _configure_stdlib(level, json=json)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
