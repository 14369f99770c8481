"""How uvicorn runs the app: `proofgate serve`, the bench server and the tests share `uvicorn_config`.

uvicorn's HTTP protocols write a response in two or three pieces (head, body, end of message), each
a `send()` of its own, so the client is woken two or three times per answer. The protocols here give
uvicorn's own a transport that joins the writes made in one pass of the event loop into one send at
the end of that pass: one packet per small response, no added latency, nothing held past the pass
in which it was written. httptools (a dependency) is preferred to h11: it parses in C, and took about
a third off the server CPU of a health probe in `proofgate bench`.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from proofgate.ticks import grid_delay, wait_for

try:  # httptools parses in C: a third less server CPU per request than h11 (a dependency; h11 if absent)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    HttpToolsProtocol = None  # type: ignore[assignment,misc]  # a class, or None when absent

__all__ = [
    "CoalescingH11Protocol",
    "CoalescingTransport",
    "Server",
    "http_protocol",
    "uvicorn_config",
]

#: Seconds between two ticks of the server's main loop (uvicorn's own: 0.1 s). Each tick wakes an
#: idle process; ten a second were half of an idle server's CPU. A signal still ends the wait at once.
TICK_SECONDS = 1.0


class CoalescingTransport(asyncio.Transport):
    """Wraps a transport: the writes of one event-loop pass go out as one write, at its end."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    # --- writing: joined per pass ----------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._pending.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Hand everything written so far to the real transport (one write)."""
        self._scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(data) for data in self._pending)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()  # what was written before close() still goes out, in order
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    # --- everything else: the real transport's -------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class CoalescingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol over a `CoalescingTransport`: one socket send per response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # Transport, as uvicorn's own
        super().connection_made(CoalescingTransport(transport, self.loop))


if HttpToolsProtocol is not None:

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol over a `CoalescingTransport`."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # Transport, as uvicorn's own
            super().connection_made(CoalescingTransport(transport, self.loop))


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol proofgate serves HTTP/1.1 with: httptools' when installed, else h11's."""
    if HttpToolsProtocol is not None:
        return CoalescingHttpToolsProtocol
    return CoalescingH11Protocol


def uvicorn_config(app: Any, *, log_level: str = "info", **options: Any) -> uvicorn.Config:
    """The uvicorn settings proofgate serves with; `options` are further `uvicorn.Config` fields.

    The loop is asyncio's own (the pool's process handling is tested on it, not on uvloop)."""
    settings: dict[str, Any] = {
        "http": http_protocol(),
        "loop": "asyncio",
        "log_level": log_level,
        "access_log": False,
    }
    return uvicorn.Config(app, **{**settings, **options})


class Server(uvicorn.Server):
    """uvicorn's server, ticking once a second instead of ten times; SIGTERM or SIGINT still
    starts the shutdown at once. `on_tick` is uvicorn's: it counts tenths of a second."""

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + round(TICK_SECONDS * 10)) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await wait_for(self._woken.wait(), grid_delay(TICK_SECONDS))
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, woken = getattr(self, "_loop", None), getattr(self, "_woken", None)
        if loop is not None and woken is not None and not loop.is_closed():
            loop.call_soon_threadsafe(woken.set)
