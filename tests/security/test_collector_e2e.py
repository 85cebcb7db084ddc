"""The collector, configured by ``soc sources collector-config`` with its agency's credentials and the
cluster's CA, ships over TLS into the secured node, and its events arrive in the agency's stream."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc import search
from tests.collectors import conftest as collector_fixtures
from tests.security.conftest import Deployment
from tests.security.test_collector_identities import add_agency, run_cli
from tests.sources.conftest import CollectorProcess

processes = collector_fixtures.processes


def test_collector_ships_over_tls_with_its_credentials(deployment: Deployment, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, processes: list[Any]) -> None:
    admin, p = deployment.admin, deployment.admin.index_prefix
    add_agency(admin, monkeypatch, "so-e2e")
    log = tmp_path / "access.log"
    code, out, err = run_cli(admin, monkeypatch, "sources", "add", "--agency", "so-e2e", "--type", "nginx",
                             "--name", "Portal", "--host", "web-01.so-e2e.vn", "--log-path", str(log))
    assert code == 0, err
    code, out, err = run_cli(admin, monkeypatch, "agencies", "collector-credentials", "so-e2e")
    assert code == 0, err
    creds = tmp_path / "creds"
    creds.write_text(out)
    bundle, queue = tmp_path / "bundle", tmp_path / "queue"
    code, out, err = run_cli(admin, monkeypatch, "sources", "collector-config", "col-so-e2e-web-01",
                             "--credentials", str(creds), "--out", str(bundle), "--tls-dir", str(bundle),
                             "--queue-dir", str(queue))
    assert code == 0, err
    col_file = bundle / "col-so-e2e-web-01.yml"
    generated = yaml.safe_load(col_file.read_text())["opensearch"]
    user, password = creds.read_text().strip().splitlines()[-1].split()
    assert generated["url"] == admin.url and generated["url"].startswith("https://")
    assert (generated["user"], generated["password"]) == (user, password)
    assert generated["ca_file"] == str(bundle / "opensearch-ca.pem")
    assert (bundle / "opensearch-ca.pem").read_text() == Path(admin.opensearch_ca_file or "").read_text()
    assert col_file.stat().st_mode & 0o077 == 0  # it holds a password
    # for the test: metrics on a port the system picks (parallel runs), heartbeats every 0.2 s
    doc = yaml.safe_load(col_file.read_text())
    doc["metrics"] = {"listen": "127.0.0.1:0"}
    doc["collector"]["heartbeat_seconds"] = 0.2
    col_file.write_text(yaml.safe_dump(doc))
    check = subprocess.run([sys.executable, "-m", "collectors.cli", "check", "-c", str(col_file)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr

    collector = CollectorProcess(col_file, queue)
    processes.append(collector)
    collector.start()
    tag = uuid.uuid4().hex[:12]
    stamp = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    with log.open("a") as fh:
        for i in range(25):
            fh.write(f'web-01.so-e2e.vn:443 203.0.113.{i + 1} - - [{stamp}] "GET /{tag}/{i} HTTP/1.1" 200 512 '
                     f'"-" "curl/8.0"\n')
    metrics = collector.wait(shipped=25)
    assert metrics.get("dead_lettered", 0) == 0, collector.log[-20:]

    service = search.client(deployment.service)
    stream = f"{p}logs-web-so-e2e"
    service.indices.refresh(index=stream)
    hits = service.search(index=stream, body={"size": 50, "query": {"match": {"event.original": tag}}})["hits"]["hits"]
    assert len(hits) == 25
    assert {h["_source"]["organization"]["id"] for h in hits} == {"so-e2e"}
    assert all(h["_index"].startswith(f".ds-{stream}-") for h in hits)
    # its heartbeats arrive too (the role's write-only grant on the heartbeats index)
    beats = f"{p}soc-heartbeats"
    deadline = time.monotonic() + 20
    found = 0
    while not found and time.monotonic() < deadline:
        service.indices.refresh(index=beats)
        found = service.count(index=beats, body={"query": {"term": {"organization.id": "so-e2e"}}})["count"]
    assert found >= 1, collector.log[-20:]
