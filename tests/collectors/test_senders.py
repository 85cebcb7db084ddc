"""Real senders into a real collector into the real node: logger (UDP, TCP, both RFCs) and rsyslog
forwarding with octet-counted framing over TCP and over TLS with a client certificate."""

from __future__ import annotations

import socket
import ssl
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.config import Settings
from tests.collectors.conftest import config_dict, originals, port_of, running, to_config


def _logger(*args: str) -> None:
    subprocess.run(["logger", "-n", "127.0.0.1", *args], check=True, timeout=30)


def test_logger_udp_and_tcp_in_both_formats(isolated: Settings, tmp_path: Path) -> None:
    sources: list[dict[str, Any]] = [
        {"id": "udp-1", "protocol": "udp", "listen": "127.0.0.1:0"},
        {"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0", "max_message_bytes": 256},
    ]
    cfg = to_config(config_dict(isolated, tmp_path / "q", sources, collector={"heartbeat_seconds": 0.2}))
    tag = uuid.uuid4().hex[:8]
    long_text = f"{tag}-long " + "x" * 1000
    with running(cfg) as col:
        udp, tcp = str(port_of(col, "udp-1")), str(port_of(col, "tcp-1"))
        _logger("--rfc5424", "-P", udp, "-d", f"{tag}-udp-5424")
        _logger("--rfc3164", "-P", udp, "-d", f"{tag}-udp-3164")
        _logger("--rfc5424", "-P", tcp, "-T", f"{tag}-tcp-5424")
        _logger("--rfc3164", "-P", tcp, "-T", f"{tag}-tcp-3164")
        _logger("--rfc5424", "-P", tcp, "-T", "--octet-count", f"{tag}-tcp-5424-octet")
        _logger("--rfc3164", "-P", tcp, "-T", "--octet-count", f"{tag}-tcp-3164-octet")
        _logger("--rfc5424", "-P", tcp, "-T", "--size", "4000", long_text)
        assert col.metrics.wait({"shipped": 7}, 60), col.metrics.snapshot()
        assert col.metrics.wait_for_state(lambda s: s["sources"]["tcp-1"]["received"] == 5, 10)
        col.heartbeat.beat()
        snap = col.metrics.snapshot()
    assert snap["received"] == snap["shipped"] == 7 and snap["truncated"] == 1
    docs = originals(isolated)
    for suffix in ("udp-5424", "udp-3164", "tcp-5424", "tcp-3164", "tcp-5424-octet", "tcp-3164-octet"):
        assert sum(d.endswith(f"{tag}-{suffix}") for d in docs) == 1, suffix
    long_docs = [d for d in docs if f"{tag}-long" in d]
    assert len(long_docs) == 1 and len(long_docs[0].encode()) == 256
    client = search.client(isolated)
    hit = client.search(index=search.names(isolated).syslog, body={"query": {"term": {"tags": "_truncated"}}})["hits"][
        "hits"
    ]
    assert len(hit) == 1 and hit[0]["_source"]["soc"]["truncated"] is True
    source = hit[0]["_source"]
    assert source["organization"]["id"] == "so-test" and source["log"]["source"]["id"] == "tcp-1"
    assert source["agent"]["id"] == source["observer"]["name"] == "col-test"
    # heartbeats: one document per source in soc-heartbeats, with the last event time and totals
    beats_index = search.names(isolated).heartbeats
    client.indices.refresh(index=beats_index)
    beat = client.get(index=beats_index, id="heartbeat.col-test.tcp-1")["_source"]
    assert beat["kind"] == "heartbeat" and beat["received_total"] == 5 and beat["last_event"]
    assert client.get(index=beats_index, id="heartbeat.col-test.udp-1")["_source"]["received_total"] == 2
    assert client.count(index=search.names(isolated).sources)["count"] == 0  # nothing beside the definitions


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=soc test ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    for name, san in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"), ("client", "")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={'localhost' if name == 'server' else name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        ext = d / f"{name}.ext"
        ext.write_text((san + "\n") if san else "basicConstraints=CA:FALSE\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    return d


def _rsyslog_conf(work: Path, infile: Path, port: int, tls: Path | None) -> str:
    drivers = ""
    action = (
        f'action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" '
        f'TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"'
    )
    if tls is not None:
        drivers = (
            f'global(DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{tls}/ca.pem" '
            f'DefaultNetstreamDriverCertFile="{tls}/client.pem" '
            f'DefaultNetstreamDriverKeyFile="{tls}/client.key")\n'
        )
        action += (
            ' StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/name" '
            'StreamDriverPermittedPeers="localhost"'
        )
    return (
        f'global(workDirectory="{work}")\n{drivers}'
        'module(load="imfile")\n'
        f'input(type="imfile" File="{infile}" Tag="soc-test:" Facility="local0" freshStartTail="off")\n'
        f"{action})\n"
    )


@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
def test_rsyslog_forwards_octet_counted(
    isolated: Settings, tmp_path: Path, pki: Path, use_tls: bool, processes: list[Any]
) -> None:
    source: dict[str, Any] = {"id": "rsyslog", "protocol": "tls" if use_tls else "tcp", "listen": "127.0.0.1:0"}
    if use_tls:
        source["tls"] = {
            "cert": str(pki / "server.pem"),
            "key": str(pki / "server.key"),
            "ca": str(pki / "ca.pem"),
            "client_auth": "required",
        }
    cfg = to_config(config_dict(isolated, tmp_path / "q", [source]))
    tag = uuid.uuid4().hex[:8]
    n = 200
    infile = tmp_path / "in.log"
    infile.write_text("".join(f"{tag} line {i} ünïcode\n" for i in range(n)))
    work = tmp_path / "work"
    work.mkdir()
    with running(cfg) as col:
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(_rsyslog_conf(work, infile, port_of(col, "rsyslog"), pki if use_tls else None))
        proc = subprocess.Popen(
            ["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(proc)
        reached = col.metrics.wait({"shipped": n}, 60)
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
        assert reached, (col.metrics.snapshot(), out)
        if use_tls:  # a client without a certificate is refused before anything is read
            ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
            with (
                socket.create_connection(("127.0.0.1", port_of(col, "rsyslog"))) as raw,
                pytest.raises((ssl.SSLError, ConnectionError)),
                ctx.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                tls.sendall(b"5 hello")
                tls.recv(1)
        snap = col.metrics.snapshot()
    assert snap["received"] == snap["shipped"] == n
    docs = sorted(d for d in originals(isolated) if tag in d)
    assert len(docs) == n and all(d.startswith("<13") for d in docs)
    assert {int(d.split(f"{tag} line ")[1].split()[0]) for d in docs} == set(range(n))
    assert all("ünïcode" in d for d in docs)
