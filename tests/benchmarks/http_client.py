"""A lean HTTP/1.1 client on asyncio for the API benchmarks: one kept-alive connection per object.

httpx cost the load generator about 3.5 ms of CPU per request, more than the API process spent
answering it, on the same two cores; this costs a small fraction of that, so the machine's CPU
goes to what is measured. Only what the API sends is handled (Content-Length bodies). The token
is given per request, so one connection can serve requests of several users.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import orjson


class Connection:
    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, token: str,
                      body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = orjson.dumps(body) if body is not None else b""
        extra = f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n" if body is not None else ""
        message = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                   f"{extra}\r\n").encode() + data
        if self.reader is not None and self.reader.at_eof():
            await self.close()  # the server ended the idle connection (keep-alive timeout, 5 s)
        reused = self.writer is not None
        line = await self._send(message)
        if not line and reused:  # closed while the request was on its way: nothing was read, send it again
            await self.close()
            line = await self._send(message)
        if not line:
            raise ConnectionError(f"{method} {path}: the server closed the connection")
        status = int(line.split(b" ", 2)[1])
        assert self.reader is not None
        length, close = None, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise RuntimeError(f"{method} {path}: an answer without Content-Length")
        answer = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, answer

    async def _send(self, message: bytes) -> bytes:
        """Sends on the open connection (opening one if needed); the answer's status line, b"" if closed."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(message)
        try:
            return await self.reader.readline()
        except ConnectionError:
            return b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


def check(status: int, answer: bytes, what: str) -> None:
    if status >= 400:
        raise RuntimeError(f"{what}: HTTP {status}: {answer[:300]!r}")
