"""Helpers for source tests: a test PKI, agencies and sources, a real collector process."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.agencies import service as agencies
from soc.auth import Principal
from soc.config import Settings
from soc.sources import clientcert, configs
from tests.collectors import conftest as collector_fixtures

REPO = Path(__file__).resolve().parents[2]
ADMIN = Principal("tests", "admin", ("*",))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem (key ca-key.pem), a collector certificate (collector.pem/.key) for the name localhost,
    and a forwarding host's client certificate (client-forwarder.pem, client-forwarder-key.pem)."""
    d = tmp_path_factory.mktemp("soc-pki")
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=soc test ca",
             "-keyout", "ca-key.pem", "-out", "ca.pem")
    _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "collector.key",
             "-out", "collector.csr")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(d, "x509", "-req", "-in", "collector.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-days", "2", "-extfile", "ext", "-out", "collector.pem")
    clientcert.issue(d, "forwarder", "so-test", d, days=2)
    for f in d.iterdir():
        f.chmod(0o644)  # rsyslog may drop privileges; the test CA has no value
    return d


def host_paths(pki: Path, **more: str) -> configs.Paths:
    """Generated files pointing at the test PKI: the collector's certificate, the host's client certificate."""
    return configs.Paths(collector_tls_dir=str(pki), host_ca_file=str(pki / "ca.pem"),
                         host_cert_file=str(pki / "client-forwarder.pem"),
                         host_key_file=str(pki / "client-forwarder-key.pem"), **more)


def add_agency(settings: Settings, agency_id: str = "so-test", address: str = "localhost") -> dict[str, Any]:
    doc = agencies.new_document(agency_id, "Sở Thử nghiệm", "Test Department", contacts=["soc@example.org"],
                                collector_address=address)
    return agencies.add(search.client(settings), search.names(settings), ADMIN, doc)


class CollectorProcess(collector_fixtures.CollectorProcess):
    """``soc-collector run -c FILE`` as a real process (the collectors' tests' harness)."""

    def start(self, timeout: float = 30) -> CollectorProcess:
        super().start(timeout)
        return self


# Every process a test starts is ended at teardown, even when the test fails (the collectors' fixture).
processes = collector_fixtures.processes
