"""Debian's nginx on loopback, driven by curl with normal and hostile requests, tailed into OpenSearch.

nginx writes every request twice, once in ``combined`` and once as ``escape=json``; two file
sources tail the two logs. Every request must arrive exactly once per format with its fields.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc.config import Settings
from soc.opensearch import node
from tests.collectors.conftest import running
from tests.collectors.tail.harness import docs, file_source, tail_config

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CURL = shutil.which("curl") or "/usr/bin/curl"
JSON_FORMAT = (
    "log_format j escape=json '{\"time_iso8601\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\","
    "\"remote_user\":\"$remote_user\",\"request\":\"$request\",\"request_method\":\"$request_method\","
    "\"request_uri\":\"$request_uri\",\"server_protocol\":\"$server_protocol\",\"status\":\"$status\","
    "\"body_bytes_sent\":\"$body_bytes_sent\",\"http_referer\":\"$http_referer\","
    "\"http_user_agent\":\"$http_user_agent\",\"host\":\"$host\"}';\n"
)
# (path, user agent); every agent is unique so each request can be found again
REQUESTS = [
    ("/", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 probe-01"),
    ("/index.html?lang=vi&page=2", "probe-02 curl"),
    ("/static/..%2f..%2f..%2fetc%2fpasswd", "probe-03 traversal"),
    ("/../../etc/shadow", "probe-04 dotdot"),
    ("/items?id=1%27%20OR%20%271%27=%271", "probe-05 sqli"),
    ("/search?q=1%20UNION%20SELECT%20username,password%20FROM%20users--", "probe-06 union"),
    ("/?x=${jndi:ldap://127.0.0.1:1389/a}", "${jndi:ldap://127.0.0.1:1389/ua} probe-07"),
    ("/q?s=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 'probe-08 quote " and backslash \\ in agent'),
    ("/long?" + "A" * 6000, "probe-09 overlong"),
    ("/%00%ff%fe?bin=%01%02", "probe-10 encoded-binary"),
]


def _free_port() -> int:
    return node.free_port()


@pytest.fixture()
def nginx(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    folder = tmp_path / "nginx"
    for sub in ("logs", "html", "scratch"):
        (folder / sub).mkdir(parents=True)
    (folder / "html" / "index.html").write_text("<p>portal</p>\n")
    for p in (tmp_path, folder, *folder.rglob("*")):
        p.chmod(0o755 if p.is_dir() else 0o644)
    port = _free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\ndaemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/logs/error.log;\n"
        "events { worker_connections 64; }\nhttp {\n" + JSON_FORMAT
        + "".join(f"  {k}_temp_path {folder}/scratch/{k};\n"
                  for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  access_log {folder}/logs/access.log combined;\n  access_log {folder}/logs/access.json j;\n"
        f"  server {{ listen 127.0.0.1:{port}; server_name portal.test; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    )
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(folder)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):  # until nginx accepts connections (a bare connect is not logged)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                try:
                    proc.wait(timeout=0.05)  # exited: its error says why
                    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "nginx exited")
                except subprocess.TimeoutExpired:
                    continue
        yield port, folder / "logs"
    finally:
        proc.terminate()
        proc.wait(10)


def _send(port: int) -> int:
    for i, (path, agent) in enumerate(REQUESTS):
        subprocess.run([CURL, "-s", "-g", "--path-as-is", "-o", "/dev/null", "--max-time", "5", "--interface",
                        f"127.0.0.{20 + i}", "-A", agent, "-e", "http://portal.test/ref", f"http://127.0.0.1:{port}{path}"],
                       check=True, timeout=10)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # binary junk (a TLS hello)
        sock.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\xfe\x00binary\r\n\r\n")
        sock.recv(4096)
    return len(REQUESTS) + 1


def test_every_request_arrives_once_with_its_fields_in_combined_and_json(
        isolated: Settings, tmp_path: Path, nginx: tuple[int, Path]) -> None:
    port, logs = nginx
    cfg = tail_config(isolated, tmp_path / "q", [
        file_source("portal-combined", "nginx", [str(logs / "access.log*")]),
        file_source("portal-json", "nginx-json", [str(logs / "access.json*")]),
    ])
    sent = _send(port)
    with running(cfg) as collector:
        for tailer in collector.tailers:
            assert tailer.wait_caught_up(60), tailer.stats
    for source in ("portal-combined", "portal-json"):
        found = docs(isolated, source)
        assert len(found) == sent, [d["event"]["original"][:100] for d in found]
        assert len({d["_id"] for d in found}) == sent
        by_url = {d.get("url", {}).get("original"): d for d in found}
        for i, (path, agent) in enumerate(REQUESTS):
            doc = by_url[path]
            assert doc["source"]["ip"] == f"127.0.0.{20 + i}", source
            assert doc["http"]["request"]["method"] == "GET"
            status = doc["http"]["response"]["status_code"]
            assert status in (200, 400)
            if status == 200:  # nginx reads no headers of a request it rejects
                assert doc["user_agent"]["original"] == agent
                assert doc["http"]["request"]["referrer"] == "http://portal.test/ref"
            assert doc["organization"]["id"] == "so-test" and doc["log"]["source"]["id"] == source
            assert doc["event"]["dataset"] == "nginx.access" and "_parse_failure" not in doc["tags"]
            assert doc["log"]["file"]["path"].startswith(str(logs))
        assert by_url[REQUESTS[2][0]]["url"]["decoded"]["path"].endswith("../../../etc/passwd")
        assert "' OR '1'='1" in by_url[REQUESTS[4][0]]["url"]["decoded"]["original"]
        assert by_url[REQUESTS[6][0]]["user_agent"]["original"].startswith("${jndi:ldap://")
        assert by_url[REQUESTS[7][0]]["user_agent"]["original"] == REQUESTS[7][1]
        assert by_url[REQUESTS[8][0]]["http"]["response"]["status_code"] == 200
        junk = [d for d in found if d["source"]["ip"] == "127.0.0.1"]
        assert len(junk) == 1 and junk[0]["http"]["response"]["status_code"] == 400
        assert "\\x16\\x03" in junk[0]["event"]["original"] or "\\u0016" in junk[0]["event"]["original"]
