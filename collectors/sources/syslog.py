"""Syslog sources: UDP, TCP and TLS listeners, and the TCP framer.

TCP framing (RFC 6587) is detected per frame on the same connection: a frame that starts with
a digit run followed by a space is octet-counted (``LEN SP MSG``); anything else runs to the next
LF (a trailing CR is removed). A message that starts with digits and a space but is not
octet-counted is therefore read as octet-counted: senders that frame by newline put ``<PRI>``
first, so this only concerns headerless garbage. Frames split across reads are joined. Frames
longer than ``max_message_bytes`` are cut to that size, flagged truncated and still shipped;
the rest of the frame is skipped without buffering it.

Each TCP/TLS connection has its own thread. When the disk queue is full the thread waits before
reading more, so the kernel's receive window closes and the sender slows down (backpressure).
UDP cannot push back: a datagram that finds the queue full is dropped and counted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from collectors.config import SourceConfig

log = logging.getLogger(__name__)

Frame = tuple[bytes, bool]  # (raw message, truncated)
# submit(source, frames, peer_ip, block) -> queued?
Submit = Callable[[SourceConfig, list[Frame], str | None, bool], bool]

_MAX_LEN_DIGITS = 9


class Framer:
    """Cuts a TCP byte stream into syslog frames, newline or octet-counted, frame by frame."""

    def __init__(self, max_bytes: int) -> None:
        self.max = max_bytes
        self.buf = bytearray()
        self.skip = 0  # bytes of an oversized octet-counted frame still to discard
        self.discard_line = False  # inside an oversized newline frame: discard up to the next LF

    def feed(self, data: bytes) -> list[Frame]:
        buf = self.buf
        buf += data
        out: list[Frame] = []
        pos, n = 0, len(buf)
        while pos < n:
            if self.skip:
                k = min(self.skip, n - pos)
                pos += k
                self.skip -= k
                continue
            if self.discard_line:
                i = buf.find(b"\n", pos)
                if i < 0:
                    pos = n
                    break
                pos, self.discard_line = i + 1, False
                continue
            c = buf[pos]
            if c in (0x0A, 0x0D):  # empty lines between frames
                pos += 1
                continue
            if 0x30 <= c <= 0x39:
                j = pos
                while j < n and j - pos <= _MAX_LEN_DIGITS and 0x30 <= buf[j] <= 0x39:
                    j += 1
                if j == n and j - pos <= _MAX_LEN_DIGITS:
                    break  # the length is not complete yet
                if j < n and buf[j] == 0x20 and j - pos <= _MAX_LEN_DIGITS:
                    length, start = int(buf[pos:j]), j + 1
                    take = min(length, self.max)
                    if n - start < take:
                        break  # wait for the frame (at most max bytes are ever buffered)
                    out.append((bytes(buf[start:start + take]), length > self.max))
                    pos = start + take
                    self.skip = length - take
                    continue
            i = buf.find(b"\n", pos)
            if i < 0:
                if n - pos > self.max:
                    out.append((bytes(buf[pos:pos + self.max]), True))
                    pos, self.discard_line = n, True
                break
            end = i - 1 if i > pos and buf[i - 1] == 0x0D else i
            if end - pos > self.max:
                out.append((bytes(buf[pos:pos + self.max]), True))
            else:
                out.append((bytes(buf[pos:end]), False))
            pos = i + 1
        del buf[:pos]
        return out

    def flush(self) -> list[Frame]:
        """The connection closed: an unterminated last frame is still a frame."""
        rest = bytes(self.buf).rstrip(b"\r\n")
        self.buf.clear()
        if rest and not self.skip and not self.discard_line:
            return [(rest[:self.max], len(rest) > self.max)]
        return []


class UdpListener:
    def __init__(self, source: SourceConfig, submit: Submit) -> None:
        self.source = source
        self.submit = submit
        family = socket.AF_INET6 if ":" in source.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.bind((source.host, source.port))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=f"udp-{source.id}", daemon=True)
        self._drops = 0
        self._drop_logged = 0.0

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        size = max(self.source.max_message_bytes, 65535)
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(size)
            except TimeoutError:
                continue
            except OSError:
                if self.stopping:
                    return
                raise
            data = data.rstrip(b"\n\0")
            if not data:
                continue
            frame = (data[:self.source.max_message_bytes], len(data) > self.source.max_message_bytes)
            if not self.submit(self.source, [frame], addr[0], False):
                self._drops += 1
                now = time.monotonic()
                if now - self._drop_logged > 10:
                    log.warning("source %s: disk queue full, %d UDP datagrams dropped so far", self.source.id,
                                self._drops)
                    self._drop_logged = now

    def stop(self) -> None:
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


class StreamListener:
    """TCP, or TLS when the source has a ``tls`` section."""

    def __init__(self, source: SourceConfig, submit: Submit) -> None:
        self.source = source
        self.submit = submit
        self.context: ssl.SSLContext | None = None
        if source.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(str(source.tls.cert), str(source.tls.key))
            if source.tls.ca is not None:
                ctx.load_verify_locations(str(source.tls.ca))
            ctx.verify_mode = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL,
                               "required": ssl.CERT_REQUIRED}[source.tls.client_auth]
            self.context = ctx
        family = socket.AF_INET6 if ":" in source.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((source.host, source.port))
        self.sock.listen(128)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, name=f"{source.protocol}-{source.id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self.stopping:
                    return
                raise
            with self.lock:
                if len(self.connections) >= self.source.max_connections:
                    log.warning("source %s: refusing %s, %d connections already open", self.source.id, addr[0],
                                len(self.connections))
                    conn.close()
                    continue
                self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn, addr[0]), name=f"conn-{addr[0]}", daemon=True).start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        framer = Framer(self.source.max_message_bytes)
        stream: socket.socket = conn
        try:
            conn.settimeout(10)
            if self.context is not None:
                stream = self.context.wrap_socket(conn, server_side=True)
            stream.settimeout(1.0)
            while not self.stopping:
                try:
                    data = stream.recv(262144)
                except TimeoutError:
                    continue
                if not data:
                    break
                frames = framer.feed(data)
                if frames:
                    self.submit(self.source, frames, peer, True)
            frames = framer.flush()
            if frames:
                self.submit(self.source, frames, peer, True)
        except (ssl.SSLError, OSError) as exc:
            if not self.stopping:
                log.warning("source %s: connection from %s ended: %s", self.source.id, peer, exc)
        finally:
            with self.lock:
                self.connections.discard(conn)
            stream.close()

    def stop(self) -> None:
        self.stopping = True
        self.sock.close()
        with self.lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)


def listener(source: SourceConfig, submit: Submit) -> UdpListener | StreamListener:
    return UdpListener(source, submit) if source.protocol == "udp" else StreamListener(source, submit)
