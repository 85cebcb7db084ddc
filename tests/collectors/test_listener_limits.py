"""Syslog listeners defend their connection slots: an idle timeout, a per-address limit and
allowed sender networks, on a real collector shipping to the real node."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from collectors.config import CollectorConfigError
from soc.config import Settings
from tests.collectors.conftest import config_dict, originals, port_of, running, to_config


def _logger_tcp(port: int, text: str) -> None:
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-T", "--rfc5424", text], check=True, timeout=30)


def _connect_from(source_ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind((source_ip, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def test_idle_connections_from_one_address_do_not_shut_out_a_real_sender(isolated: Settings, tmp_path: Path) -> None:
    sources: list[dict[str, Any]] = [{"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0"}]
    cfg = to_config(config_dict(isolated, tmp_path / "q", sources))
    tag = uuid.uuid4().hex[:10]
    with running(cfg) as col, ExitStack() as stack:
        port = port_of(col, "tcp-1")
        for _ in range(512):  # as many as the listener's total, all idle, from 127.0.0.2
            stack.enter_context(_connect_from("127.0.0.2", port))
        limit = cfg.sources[0].max_connections_per_peer
        assert col.metrics.wait_for_state(lambda s: s["sources"]["tcp-1"]["refused"] >= 512 - limit, 30), \
            col.metrics.snapshot()
        _logger_tcp(port, f"{tag} from a real sender")
        assert col.metrics.wait({"shipped": 1}, 30), col.metrics.snapshot()
    assert [d for d in originals(isolated) if tag in d]


def test_a_silent_connection_is_closed_after_the_idle_timeout(isolated: Settings, tmp_path: Path) -> None:
    sources: list[dict[str, Any]] = [
        {"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0", "idle_timeout_seconds": 1}]
    cfg = to_config(config_dict(isolated, tmp_path / "q", sources))
    with running(cfg) as col:
        port = port_of(col, "tcp-1")
        with _connect_from("127.0.0.1", port) as silent, _connect_from("127.0.0.1", port) as talking:
            started = time.monotonic()
            for i in range(8):  # the talking one sends every 0.3 s for 2.4 s: never idle for 1 s
                talking.sendall(b"<13>1 2026-01-02T03:04:05Z h app - - - keepalive %d\n" % i)
                time.sleep(0.3)
            silent.settimeout(10)
            assert silent.recv(1) == b""  # closed by the collector
            assert time.monotonic() - started < 10
            talking.sendall(b"<13>1 2026-01-02T03:04:05Z h app - - - still here\n")
            assert col.metrics.wait({"shipped": 9}, 30), col.metrics.snapshot()


def test_senders_outside_the_allowed_networks_are_refused_and_counted(isolated: Settings, tmp_path: Path) -> None:
    allowed = ["127.0.0.2/32"]
    sources: list[dict[str, Any]] = [
        {"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0", "allowed_networks": allowed},
        {"id": "udp-1", "protocol": "udp", "listen": "127.0.0.1:0", "allowed_networks": allowed},
    ]
    cfg = to_config(config_dict(isolated, tmp_path / "q", sources))
    tag = uuid.uuid4().hex[:10]
    with running(cfg) as col:
        tcp, udp = port_of(col, "tcp-1"), port_of(col, "udp-1")
        _logger_tcp(tcp, f"{tag} tcp from 127.0.0.1")  # logger's connection comes from 127.0.0.1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(f"<13>1 2026-01-02T03:04:05Z h app - - - {tag} udp from 127.0.0.1".encode(), ("127.0.0.1", udp))
        assert col.metrics.wait_for_state(
            lambda s: s["sources"].get("tcp-1", {}).get("refused") == 1
            and s["sources"].get("udp-1", {}).get("refused") == 1, 30), col.metrics.snapshot()
        with _connect_from("127.0.0.2", tcp) as ok:
            ok.sendall(f"<13>1 2026-01-02T03:04:05Z h app - - - {tag} tcp from 127.0.0.2\n".encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.2", 0))
            u.sendto(f"<13>1 2026-01-02T03:04:05Z h app - - - {tag} udp from 127.0.0.2".encode(), ("127.0.0.1", udp))
        assert col.metrics.wait({"shipped": 2}, 30), col.metrics.snapshot()
        snap = col.metrics.snapshot()
    assert snap["received"] == 2
    stored = sorted(d.split(tag)[1].strip() for d in originals(isolated) if tag in d)
    assert stored == ["tcp from 127.0.0.2", "udp from 127.0.0.2"]


def test_a_bad_network_is_named_with_its_line(tmp_path: Path) -> None:
    sources: list[dict[str, Any]] = [
        {"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0", "allowed_networks": ["10.0.0.0/8", "10.1/x"]}]
    with pytest.raises(CollectorConfigError, match=r"test\.yml:\d+: .*'10\.1/x' is not a network"):
        to_config(config_dict(None, tmp_path / "q", sources))
