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

Listeners defend their slots: a TCP/TLS connection that sends nothing for ``idle_timeout_seconds``
(the TLS handshake included) is closed, one address may hold at most ``max_connections_per_peer``
connections, and when ``allowed_networks`` is set a connection or datagram from any other address
is refused. Every refusal is reported through ``on_refused(peer, reason)`` (the metrics count it).
"""

from __future__ import annotations

import contextlib
import ipaddress
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
# on_refused(peer_ip, reason): a connection or datagram was turned away
Refused = Callable[[str, str], None]

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


class _Gate:
    """Who may send to a source, and the counting and (rate-limited) logging of who may not."""

    def __init__(self, source: SourceConfig, on_refused: Refused | None) -> None:
        self.source = source
        self.on_refused = on_refused
        self.refused = 0
        self._logged = 0.0

    def allowed(self, peer: str) -> bool:
        if not self.source.allowed_networks:
            return True
        try:
            ip = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.source.allowed_networks)

    def refuse(self, peer: str, reason: str) -> None:
        self.refused += 1
        if self.on_refused is not None:
            self.on_refused(peer, reason)
        now = time.monotonic()
        if now - self._logged > 10:
            log.warning("source %s: refused %s (%s); %d refused so far", self.source.id, peer, reason, self.refused)
            self._logged = now


class UdpListener:
    def __init__(self, source: SourceConfig, submit: Submit, on_refused: Refused | None = None) -> None:
        self.source = source
        self.submit = submit
        self.gate = _Gate(source, on_refused)
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
            if not self.gate.allowed(addr[0]):
                self.gate.refuse(addr[0], "sender network not allowed")
                continue
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

    def __init__(self, source: SourceConfig, submit: Submit, on_refused: Refused | None = None) -> None:
        self.source = source
        self.submit = submit
        self.gate = _Gate(source, on_refused)
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
        self.per_peer: dict[str, int] = {}
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
            peer = addr[0]
            reason = self._admit(conn, peer)
            if reason:
                conn.close()
                self.gate.refuse(peer, reason)
                continue
            threading.Thread(target=self._serve, args=(conn, peer), name=f"conn-{peer}", daemon=True).start()

    def _admit(self, conn: socket.socket, peer: str) -> str:
        """Take a slot for the connection, or say why not."""
        if not self.gate.allowed(peer):
            return "sender network not allowed"
        with self.lock:
            if self.per_peer.get(peer, 0) >= self.source.max_connections_per_peer:
                return f"{self.source.max_connections_per_peer} connections already open from this address"
            if len(self.connections) >= self.source.max_connections:
                return f"{len(self.connections)} connections already open"
            self.connections.add(conn)
            self.per_peer[peer] = self.per_peer.get(peer, 0) + 1
        return ""

    def _serve(self, conn: socket.socket, peer: str) -> None:
        framer = Framer(self.source.max_message_bytes)
        stream: socket.socket = conn
        idle = self.source.idle_timeout_seconds
        try:
            conn.settimeout(min(10.0, idle))
            if self.context is not None:
                stream = self.context.wrap_socket(conn, server_side=True)
            stream.settimeout(min(1.0, idle))
            last = time.monotonic()
            while not self.stopping:
                try:
                    data = stream.recv(262144)
                except TimeoutError:
                    if time.monotonic() - last >= idle:
                        log.info("source %s: closing %s, idle for %.0f s", self.source.id, peer, idle)
                        break
                    continue
                if not data:
                    break
                frames = framer.feed(data)
                if frames:
                    self.submit(self.source, frames, peer, True)
                last = time.monotonic()
            frames = framer.flush()
            if frames:
                self.submit(self.source, frames, peer, True)
        except (ssl.SSLError, OSError) as exc:
            if not self.stopping:
                log.warning("source %s: connection from %s ended: %s", self.source.id, peer, exc)
        finally:
            with self.lock:
                self.connections.discard(conn)
                left = self.per_peer.pop(peer, 1) - 1
                if left > 0:
                    self.per_peer[peer] = left
            stream.close()

    def stop(self) -> None:
        self.stopping = True
        self.sock.close()
        with self.lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)


def listener(source: SourceConfig, submit: Submit, on_refused: Refused | None = None) -> UdpListener | StreamListener:
    kind = UdpListener if source.protocol == "udp" else StreamListener
    return kind(source, submit, on_refused)
