"""`soc serve` turns Nagle's algorithm off on every connection, also on a socket bound as uvicorn
binds it for several workers (the cause of a fixed ~40 ms on every API response)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from soc.api import server as api_server
from soc.api.server import NoDelayH11Protocol


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


PROTOCOLS = [(NoDelayH11Protocol, True), (H11Protocol, False)]
if api_server.HAS_HTTPTOOLS:
    PROTOCOLS.append((api_server.NoDelayHttpToolsProtocol, True))


def test_serve_uses_the_c_parser_and_uvloop() -> None:
    """Both are dependencies: the pure-Python h11 parser and asyncio's loop cost more CPU per request."""
    assert api_server.HAS_HTTPTOOLS and api_server.HAS_UVLOOP
    assert api_server.PROTOCOL.endswith(":NoDelayHttpToolsProtocol") and api_server.LOOP == "uvloop"


@pytest.mark.parametrize(("base", "nodelay"), PROTOCOLS)
def test_accepted_connections_have_tcp_nodelay(base: type[H11Protocol], nodelay: bool) -> None:
    seen: list[int] = []

    class Recording(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    sock = socket.socket(family=socket.AF_INET)  # as uvicorn binds it when it runs several workers
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # asyncio's own loop, which leaves Nagle on (uvloop, which `soc serve` runs, turns it off by itself).
    server = uvicorn.Server(uvicorn.Config(hello, http=Recording, loop="asyncio", lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        with httpx.Client() as http:
            assert http.get(f"http://127.0.0.1:{port}/").text == "hello"
            assert http.get(f"http://127.0.0.1:{port}/").text == "hello"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert len(seen) == 1  # one kept-alive connection
    assert bool(seen[0]) is nodelay
