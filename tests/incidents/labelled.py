"""Labelled traffic made by real programs, indexed into an agency's streams and detected with the
project's rules: nginx + curl (tests/detection/capture.py) and ``logger`` sending sshd lines to a
local receiver. Actors, by source address:

- 127.0.0.10 benign browsing (and an admin's publickey login and sudo);
- 127.0.0.31 / .32 web probers (404s), 127.0.0.23 attack payloads, 127.0.0.22 a scanner;
- 127.0.0.51 guesses SSH passwords, gets in as oracle and runs a root shell with sudo;
  127.0.0.52 guesses and never gets in.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.parsers import ParseContext
from collectors.parsers.dispatch import parse
from soc import search
from soc.config import Settings
from soc.detection import convert, rules, runner
from soc.detection.settings import DetectionSettings
from tests.detection import capture

RULES = Path(__file__).resolve().parents[2] / "rules"
BENIGN, WINNER, LOSER = "127.0.0.10", "127.0.0.51", "127.0.0.52"
WEB_ACTORS = ("127.0.0.31", "127.0.0.32", "127.0.0.23", "127.0.0.22")
USERS = ("root", "admin", "oracle", "test")


class Receiver:
    """A TCP syslog receiver for octet-counted frames (what ``logger --octet-count`` sends)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.frames: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            with conn:
                while chunk := conn.recv(65536):
                    data += chunk
            while data:
                size, _, rest = data.partition(b" ")
                self.frames.append(rest[:int(size)])
                data = rest[int(size):]

    def close(self) -> None:
        self.sock.close()


def _logger(port: int, pid: int, message: str, tag: str = "sshd") -> None:
    logger = shutil.which("logger") or "/usr/bin/logger"
    subprocess.run([logger, "--rfc5424", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(port),
                    "-p", "authpriv.info", "-t", tag, f"--id={pid}", "--", message], check=True, timeout=10)


def ssh_lines() -> list[bytes]:
    """sshd (and sudo) lines as logger frames them: an admin, a guesser who gets in, one who does not."""
    rx = Receiver()
    try:
        _logger(rx.port, 4101, f"Accepted publickey for alice from {BENIGN} port 50122 ssh2: ED25519 SHA256:demo")
        for who in (WINNER, LOSER):
            for i in range(14):
                user = USERS[i % len(USERS)]
                _logger(rx.port, 5000 + i, f"Failed password for {user} from {who} port {40000 + i} ssh2")
        _logger(rx.port, 5100, f"Accepted password for oracle from {WINNER} port 41000 ssh2")
        _logger(rx.port, 5120, "oracle : TTY=pts/1 ; PWD=/home/oracle ; USER=root ; COMMAND=/bin/bash", "sudo")
        expected = 1 + 28 + 2
        for _ in range(200):
            if len(rx.frames) >= expected:
                break
            rx.thread.join(0.05)
        assert len(rx.frames) == expected, rx.frames
        return list(rx.frames)
    finally:
        rx.close()


def index(settings: Settings, agency: str, web: list[str], syslog: list[bytes]) -> None:
    client, names = search.client(settings), search.names(settings)
    ctx = ParseContext(received_at=datetime.now(UTC))
    ops: list[dict[str, Any]] = []
    for kind, raw in [("nginx", line.encode()) for line in web] + [("syslog", frame) for frame in syslog]:
        event = parse(kind, raw, ctx)
        event["organization"] = {"id": agency}
        stream = "logs-web" if kind == "nginx" else "logs-syslog"
        ops += [{"create": {"_index": names.stream(stream, agency)}}, event]
    resp = client.bulk(body=ops, refresh=True)
    assert not resp["errors"], [i for i in resp["items"] if i["create"].get("error")][:1]


def detect(settings: Settings) -> None:
    loaded, problems = rules.load([RULES / "web", RULES / "linux"])
    assert not problems, problems
    ds = DetectionSettings(settle_s=0.0, rule_paths=(RULES / "web", RULES / "linux"))
    report = runner.run_cycle(settings, ds, convert.compile_rules(loaded))
    assert report.ran and not report.errors, report
    search.client(settings).indices.refresh(index=search.names(settings).alerts)


def make() -> tuple[list[str], list[bytes]]:
    """Web lines (re-timed to start 20 minutes ago) and sshd frames, made once per test module."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    folder = Path(tempfile.mkdtemp(prefix="soc-labelled-site-"))  # nginx's worker user must traverse it
    folder.chmod(0o755)
    try:
        return capture.make(folder / "site", start).lines, ssh_lines()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
