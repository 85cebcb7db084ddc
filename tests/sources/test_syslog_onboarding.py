"""Onboard a syslog source end to end: the generated collector file passes ``soc-collector check``
and runs; Debian's rsyslogd, started in the foreground with the generated forwarding action (TLS
with gtls, octet-counted framing, disk-assisted queue), ships into it; ``soc sources test``
reports the latency, and names the collector when it is stopped."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from soc import cli, search
from soc.config import Settings
from soc.sources import probe, service
from tests.sources.conftest import ADMIN, CollectorProcess, add_agency, free_port, host_paths


def _rsyslog_conf(tmp: Path, infile: Path, snippet: Path) -> Path:
    work = tmp / "rsyslog-work"
    work.mkdir()
    conf = tmp / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{work}")\n'
                    'module(load="imfile")\n'
                    f'input(type="imfile" File="{infile}" Tag="app:" Facility="local0" freshStartTail="off")\n'
                    f'include(file="{snippet}")\n')
    return conf


def test_syslog_source_end_to_end(isolated: Settings, tmp_path: Path, pki: Path, processes: list[Any],
                                  capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated)
    port = free_port()
    source = service.new_source(client, names, ADMIN, "so-test", "syslog", "Core firewall", host="fw-01",
                                expected_rate=10, port=port)
    sid = source["id"]
    assert sid.startswith("so-test-syslog-") and source["collector"] == {
        "id": "col-so-test", "address": "localhost", "port": port, "protocol": "tls"}
    paths = host_paths(pki, queue_dir=str(tmp_path / "queue"))
    files = service.configuration(client, names, ADMIN, sid, paths)
    assert set(files) == {f"collector-source-{sid}.yml", f"rsyslog-60-soc-{sid}.conf", f"syslog-ng-soc-{sid}.conf"}

    # the whole collector file, validated by the real validator
    col_file = tmp_path / "collector.yml"
    col_file.write_text(service.collector_config(client, names, ADMIN, "col-so-test", isolated.url,
                                                 isolated.index_prefix, paths))
    check = subprocess.run([sys.executable, "-m", "collectors.cli", "check", "-c", str(col_file)],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert f"{sid} (tls 0.0.0.0:{port})" in check.stdout

    collector = CollectorProcess(col_file, tmp_path / "queue")
    processes.append(collector)
    collector.start()

    # rsyslog with the generated action, checked by rsyslogd itself, then run in the foreground
    snippet = tmp_path / f"60-soc-{sid}.conf"
    snippet.write_text(files[f"rsyslog-60-soc-{sid}.conf"])
    tag = uuid.uuid4().hex[:10]
    infile = tmp_path / "app.log"
    infile.write_text("".join(f"{tag} message {i}\n" for i in range(20)))
    conf = _rsyslog_conf(tmp_path, infile, snippet)
    valid = subprocess.run(["rsyslogd", "-N1", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    rsyslog = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(rsyslog)
    collector.wait(shipped=20)
    rsyslog.terminate()
    rsyslog.wait(30)
    client.indices.refresh(index=names.syslog)
    hits = client.search(index=names.syslog, body={"size": 50, "query": {"bool": {"filter": [
        {"term": {"log.source.id": sid}}, {"match": {"event.original": tag}}]}}})["hits"]["hits"]
    assert len(hits) == 20
    event = hits[0]["_source"]
    assert event["organization"]["id"] == "so-test" and event["agent"]["id"] == "col-so-test"
    assert event["event"]["original"].startswith("<13")  # RFC 5424 from RSYSLOG_SyslogProtocol23Format
    assert "_parse_failure" not in (event.get("tags") or [])

    # soc sources test: through the collector's TLS listener into OpenSearch
    # the listener requires a client certificate from the SOC CA: without one nothing gets in
    with socket.create_connection(("localhost", port), timeout=10) as raw:
        try:
            tls = ssl.create_default_context(cafile=str(pki / "ca.pem")).wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"<13>1 - h app - - - no certificate\n")
            answer = tls.recv(1)  # an accepted connection would stay open: a timeout fails the test
        except (ssl.SSLError, ConnectionResetError):
            answer = b""
    assert answer == b""
    client_cert = (paths.host_cert_file, paths.host_key_file)
    result = probe.run(client, names, source, ca_file=str(pki / "ca.pem"), timeout=60, client_cert=client_cert)
    assert result.ok and result.stage == "searchable", result.message
    assert result.latency_s is not None and 0 < result.latency_s < 60
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", isolated.index_prefix)
    assert cli.main(["sources", "test", sid, "--ca-file", str(pki / "ca.pem"), "--timeout", "60",
                     "--client-cert", paths.host_cert_file, "--client-key", paths.host_key_file]) == 0
    assert "ok: the marker event is searchable" in capsys.readouterr().out

    # the collector stopped: the command says where the event stopped
    collector.stop()
    assert cli.main(["sources", "test", sid, "--ca-file", str(pki / "ca.pem"), "--timeout", "5"]) == 1
    out = capsys.readouterr().out
    assert f"connection refused to collector at localhost:{port}" in out

    # a wrong CA is named as a TLS failure, not as a missing event
    collector.start()
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other)], check=True, capture_output=True)
    bad = probe.run(client, names, source, ca_file=str(other), timeout=5)
    assert not bad.ok and bad.stage == "collector" and "TLS with collector at localhost" in bad.message
