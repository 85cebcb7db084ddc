"""A labelled log folder made by real programs, so that a fresh clone measures detection quality
without the shared logs: Debian's nginx answering an HTTP client and curl (tests/detection/capture.py
does the same for the event-time tests), and util-linux's ``logger`` sending RFC 5424 syslog over TCP
to a listener of the test. The folder has the layout ``soc.detection.evaluate`` reads (``nginx/*.log``,
``syslog/*.log`` and ``labels/<same path>.actors``, one actor per line).

Actors: ``benign`` (browsing with stale links, nginx's readiness probe among them; an admin's
publickey login and sudo), ``system`` (any other line), ``curl_payloads`` (traversal, injection,
XSS, JNDI... with curl), ``nikto`` (a scanner's user agent and paths) and ``hydra`` (a
password-guessing burst against sshd).
Labels come from what each program was told to do: the source address of a request, the address
named in an sshd line.
"""

from __future__ import annotations

import socketserver
import threading
from pathlib import Path

from soc.demo import traffic
from soc.opensearch.node import free_port

WEB_ACTORS = {"127.0.0.10": "benign", "127.0.0.23": "curl_payloads", "127.0.0.22": "nikto"}
GUESSER = "127.0.0.31"


class _Frames(socketserver.BaseRequestHandler):
    """One logger connection: octet-counted frames ("LEN SP MESSAGE"), appended to the server's list."""

    def handle(self) -> None:
        data = b""
        self.request.settimeout(5)
        while chunk := self.request.recv(65536):
            data += chunk
        while data:
            size, _, rest = data.partition(b" ")
            n = int(size)
            self.server.frames.append(rest[:n].decode("utf-8", "replace").rstrip("\n"))  # type: ignore[attr-defined]
            data = rest[n:]


def _syslog(folder: Path) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), _Frames)
    server.frames = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        traffic.syslog_activity(server.server_address[1], guesses=30)
    finally:
        server.shutdown()
        server.server_close()
    lines: list[str] = server.frames  # type: ignore[attr-defined]
    assert len(lines) == 33, len(lines)  # 2 of the admin, 30 guesses, 1 disconnect
    (folder / "syslog").mkdir(parents=True)
    (folder / "syslog" / "auth.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    labels = ["hydra" if f"from {GUESSER} " in line else "benign" for line in lines]
    (folder / "labels" / "syslog").mkdir(parents=True)
    (folder / "labels" / "syslog" / "auth.log.actors").write_text("\n".join(labels) + "\n", encoding="utf-8")


def _web(folder: Path) -> None:
    site = traffic.start_nginx(folder / "site", free_port())
    try:
        traffic.browse(site.port, 120, "127.0.0.10")
        traffic.attack(site.port, "127.0.0.23", "127.0.0.22")
    finally:
        traffic.stop_nginx(site)
    lines = site.access_log.read_text(encoding="utf-8").splitlines()
    (folder / "nginx").mkdir(parents=True)
    (folder / "nginx" / "access.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    labels = [WEB_ACTORS.get(line.split(" ", 1)[0], "system") for line in lines]
    (folder / "labels" / "nginx").mkdir(parents=True)
    (folder / "labels" / "nginx" / "access.log.actors").write_text("\n".join(labels) + "\n", encoding="utf-8")


def make(folder: Path) -> Path:
    """The labelled folder, in ``folder`` (which nginx's worker user must be able to traverse)."""
    _web(folder)
    _syslog(folder)
    return folder
