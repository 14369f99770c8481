"""The transport that joins a response's writes, and the uvicorn settings proofgate serves with."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from proofgate.api.server import (
    CoalescingH11Protocol,
    CoalescingHttpToolsProtocol,
    CoalescingTransport,
    Server,
    http_protocol,
    uvicorn_config,
)
from tests.support.live_app import run_app
from tests.support.waiting import DEADLINE_SECONDS, until


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


async def test_writes_of_one_pass_go_out_as_one_write_at_its_end() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(bytearray(b"body"))
    transport.write(b"")
    assert real.writes == [] and transport.get_write_buffer_size() == 23
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.writelines([b"a", b"b"])
    await asyncio.sleep(0)
    assert real.writes[1:] == [b"ab"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 5)


async def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.events == ["write", "close"] and real.writes == [b"last words"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left, and writes nothing more
    assert real.events == ["write", "close"]

    dropped = RecordingTransport()
    transport = CoalescingTransport(dropped, asyncio.get_running_loop())
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert dropped.events == ["abort"]


async def test_nothing_is_written_to_a_transport_closed_meanwhile() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"late")
    real.closing = True  # the peer went away within the pass
    await asyncio.sleep(0)
    assert real.writes == []


def test_the_config_serves_with_the_coalescing_protocol_on_asyncio() -> None:
    config = uvicorn_config(object(), host="127.0.0.1", port=1, log_level="warning")
    assert config.http is http_protocol() is CoalescingHttpToolsProtocol  # httptools is installed
    assert config.loop == "asyncio"
    assert config.access_log is False


async def _json(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "echo": request.query_params.get("q", "")})


async def _stream(request: Any) -> StreamingResponse:
    async def lines() -> Any:
        for index in range(50):
            yield f"{index}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(lines(), media_type="text/plain")


async def _big(request: Any) -> JSONResponse:
    return JSONResponse({"data": "x" * 2_000_000})


@pytest.mark.parametrize("protocol", [CoalescingHttpToolsProtocol, CoalescingH11Protocol])
def test_responses_streams_and_closed_connections_arrive_whole_over_real_http(
    protocol: type,
) -> None:
    app = Starlette(routes=[Route("/json", _json), Route("/stream", _stream), Route("/big", _big)])
    with run_app(app, http=protocol) as url, httpx.Client(base_url=url, timeout=10) as client:
        for index in range(20):  # keep-alive: one connection, many responses
            assert client.get("/json", params={"q": str(index)}).json() == {
                "ok": True,
                "echo": str(index),
            }
        assert client.get("/stream").text == "".join(f"{i}\n" for i in range(50))
        closing = client.get("/json", headers={"Connection": "close"})
        assert closing.json()["ok"] is True and closing.headers["connection"] == "close"
        big = client.get("/big")  # far over the socket's buffer: written over several passes
        assert big.json() == {"data": "x" * 2_000_000}


def test_the_server_ticks_rarely_but_a_signal_stops_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a tick far past the test's own deadline: only the wake-up can stop the server in time
    monkeypatch.setattr("proofgate.api.server.TICK_SECONDS", 10 * DEADLINE_SECONDS)
    app = Starlette(routes=[Route("/json", _json)])
    from tests.support.server import free_port

    port = free_port()
    server = Server(
        uvicorn_config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert until(lambda: server.started)
    assert httpx.get(f"http://127.0.0.1:{port}/json", timeout=5).json()["ok"] is True
    assert "date" in httpx.get(f"http://127.0.0.1:{port}/json", timeout=5).headers
    server._loop.call_soon_threadsafe(server.handle_exit, signal.SIGTERM, None)
    thread.join(DEADLINE_SECONDS)
    assert not thread.is_alive()
