"""Onboard an nginx source end to end: nginx runs with the generated format lines, the generated
collector file tails its access log, and ``soc sources test`` requests a marker URL and finds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from soc import search
from soc.config import Settings
from soc.sources import configs, probe, service
from tests.sources.conftest import ADMIN, CollectorProcess, add_agency, free_port


def _nginx_conf(tmp: Path, snippet: str, port: int) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
{snippet}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        location / {{ return 404; }}
    }}
}}
""")
    return conf


def test_nginx_source_end_to_end(isolated: Settings, tmp_path: Path, processes: list[Any]) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated)
    log_path = tmp_path / "logs" / "access.log"
    log_path.parent.mkdir()
    source = service.new_source(client, names, ADMIN, "so-test", "nginx", "Public portal", host="web-01.so-test.vn",
                                expected_rate=5, log_path=str(log_path))
    sid = source["id"]
    assert source["collector"]["id"] == "col-so-test-web-01" and source["collector"]["port"] is None
    files = service.configuration(client, names, ADMIN, sid)
    assert set(files) == {f"collector-source-{sid}.yml", f"nginx-{sid}.conf", f"apache-{sid}.conf",
                          f"logrotate-{sid}"}
    assert "delaycompress" in files[f"logrotate-{sid}"] and "copytruncate" not in files[f"logrotate-{sid}"].split(
        "# the collector was")[1]

    port = free_port()
    conf = _nginx_conf(tmp_path, files[f"nginx-{sid}.conf"], port)
    tested = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert tested.returncode == 0, tested.stderr
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(nginx)

    paths = configs.Paths(queue_dir=str(tmp_path / "queue"))
    col_file = tmp_path / "collector.yml"
    col_file.write_text(service.collector_config(client, names, ADMIN, "col-so-test-web-01", isolated.url,
                                                 isolated.index_prefix, paths))
    check = subprocess.run([sys.executable, "-m", "collectors.cli", "check", "-c", str(col_file)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    collector = CollectorProcess(col_file, tmp_path / "queue")
    processes.append(collector)
    collector.start()

    result = probe.run(client, names, source, url=f"http://127.0.0.1:{port}", timeout=60)
    assert result.ok, result.message + "".join(collector.log[-10:])
    client.indices.refresh(index=names.web)
    hits = client.search(index=names.web, body={"query": {"bool": {"filter": [
        {"term": {"log.source.id": sid}}, {"match": {"event.original": result.marker}}]}}})["hits"]["hits"]
    assert len(hits) == 1
    event = hits[0]["_source"]
    # the generated format puts the virtual host first; the parser reads it into url.domain
    assert event["event"]["dataset"] == "nginx.access" and event["url"]["domain"] == "127.0.0.1"  # the Host header
    assert event["http"]["response"]["status_code"] == 404 and event["organization"]["id"] == "so-test"
    assert "_parse_failure" not in (event.get("tags") or [])

    # the web server is down: the probe names it
    nginx.terminate()
    nginx.wait(20)
    down = probe.run(client, names, source, url=f"http://127.0.0.1:{port}", timeout=5)
    assert not down.ok and down.stage == "web server" and f"127.0.0.1:{port}" in down.message
