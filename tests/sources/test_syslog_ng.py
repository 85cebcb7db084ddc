"""The generated syslog-ng destination, run by a real syslog-ng, ships into a real collector over TLS.

Debian's syslog-ng-core cannot be installed next to rsyslog (both provide system-log-daemon), so
``scripts/syslog-ng.sh`` unpacks Debian's package into the cache and this test runs that binary.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from soc import search
from soc.config import Settings
from soc.sources import service
from tests.sources.conftest import ADMIN, CollectorProcess, add_agency, free_port, host_paths

REPO = Path(__file__).resolve().parents[2]


def _syslog_ng() -> tuple[Path, dict[str, str]]:
    out = subprocess.run(["bash", str(REPO / "scripts" / "syslog-ng.sh")], capture_output=True, text=True,
                         timeout=600, check=True)
    root = Path(out.stdout.strip().splitlines()[-1])
    env = {**os.environ, "LD_LIBRARY_PATH": f"{root}/usr/lib/x86_64-linux-gnu:{root}/usr/lib/syslog-ng"}
    return root, env


def test_generated_syslog_ng_destination_ships_over_tls(isolated: Settings, tmp_path: Path, pki: Path,
                                                        processes: list[Any]) -> None:
    root, env = _syslog_ng()
    binary = root / "usr" / "sbin" / "syslog-ng"
    modules = next((root / "usr" / "lib" / "syslog-ng").glob("3.*"))
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated)
    port = free_port()
    source = service.new_source(client, names, ADMIN, "so-test", "syslog", "Mail relay", host="mail-01",
                                expected_rate=5, port=port)
    sid = source["id"]
    buffer_dir = tmp_path / "ng-buffer"
    buffer_dir.mkdir()
    paths = host_paths(pki, queue_dir=str(tmp_path / "queue"), syslog_ng_buffer_dir=str(buffer_dir))
    files = service.configuration(client, names, ADMIN, sid, paths)
    col_file = tmp_path / "collector.yml"
    col_file.write_text(service.collector_config(client, names, ADMIN, "col-so-test", isolated.url,
                                                 isolated.index_prefix, paths))
    collector = CollectorProcess(col_file, tmp_path / "queue")
    processes.append(collector)
    collector.start()

    tag = uuid.uuid4().hex[:10]
    infile = tmp_path / "app.log"
    infile.write_text("".join(f"{tag} relay message {i}\n" for i in range(15)))
    snippet = tmp_path / "soc.conf"
    snippet.write_text(files[f"syslog-ng-soc-{sid}.conf"])
    conf = tmp_path / "syslog-ng.conf"
    conf.write_text(f'@version: {modules.name}\n'
                    f'source s_src {{ file("{infile}" follow-freq(0.2) flags(no-parse) program-override("app")); }};\n'
                    f'@include "{snippet}"\n')
    common = ["-f", str(conf), f"--module-path={modules}", f"--persist-file={tmp_path / 'ng.persist'}",
              f"--pidfile={tmp_path / 'ng.pid'}", f"--control={tmp_path / 'ng.ctl'}", "--no-caps"]
    check = subprocess.run([str(binary), "--syntax-only", *common], capture_output=True, text=True, env=env,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    ng = subprocess.Popen([str(binary), "-F", *common], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=(tmp_path / "ng.log").open("wb"))
    processes.append(ng)
    collector.wait(shipped=15, timeout=90)

    client.indices.refresh(index=names.syslog)
    hits = client.search(index=names.syslog, body={"size": 50, "query": {"bool": {"filter": [
        {"term": {"log.source.id": sid}}, {"match": {"event.original": tag}}]}}})["hits"]["hits"]
    assert len(hits) == 15, (tmp_path / "ng.log").read_text()[-2000:]
    event = hits[0]["_source"]
    assert event["organization"]["id"] == "so-test"
    assert event["log"]["syslog"]["version"] == "1"  # syslog() sent RFC 5424 (octet-counted over TLS)
    assert "_parse_failure" not in event.get("tags", [])
