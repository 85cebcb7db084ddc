"""The HTTP protocol ``soc serve`` runs: uvicorn's httptools protocol with TCP_NODELAY on every connection.

httptools (a C HTTP parser) costs less CPU per request than the pure-Python h11 parser, which
stays as the fallback when httptools is not installed.

With ``--workers`` above 1, uvicorn binds the listening socket itself without naming the TCP
protocol, and asyncio then leaves Nagle's algorithm on for the accepted connections. A response
is written as headers then body; the body waits for the client's delayed acknowledgement of the
headers, adding about 40 ms to every request. Setting TCP_NODELAY on each connection removes it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None

if HAS_HTTPTOOLS:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_nodelay(transport)
            super().connection_made(transport)

PROTOCOL = "soc.api.server:NoDelayHttpToolsProtocol" if HAS_HTTPTOOLS else "soc.api.server:NoDelayH11Protocol"
LOOP = "uvloop" if HAS_UVLOOP else "asyncio"
