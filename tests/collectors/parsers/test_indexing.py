# ruff: noqa: E501  (log lines are corpus data; they stay whole)
"""Parsed events are accepted by the real data-stream mappings, and their fields are searchable."""

from __future__ import annotations

from typing import Any

from soc import search
from soc.config import Settings
from tests.collectors.parsers.contract import run

SYSLOG = [
    '<46>1 2026-11-26T23:59:11.083502+00:00 vm rsyslogd - - [origin software="rsyslogd" x-pid="18207" '
    'x-info="https://www.rsyslog.com"][meta.data key.with.dots="v"] start',
    "<38>Nov 26 23:59:44 vm sshd[18349]: Failed password for root from 127.0.0.31 port 46232 ssh2",
    "<38>Nov 26 23:59:44 vm sshd[1]: Failed password for root from host.example port 2 ssh2",
    "Nov 26 23:59:57 vm sudo: alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
    "<189>12: r1: *Mar  1 00:00:00.123 UTC: %SYS-5-CONFIG_I: Configured",
    "kernel: nonsense \x00 that is not syslog",
]
WEB = [
    ("nginx", '127.0.0.23 - - [26/Nov/2026:23:59:29 +0000] "GET /..%2f..%2fetc/passwd?x=%24%7Bjndi%3Aldap%7D HTTP/1.1" '
     '404 1 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"'),
    ("nginx", r'127.0.0.9 - - [26/Nov/2026:23:59:29 +0000] "\x16\x03\x01\x00" 400 157 "-" "-"'),
    ("nginx-json", '{"time_iso8601":"2026-11-26T23:59:14+00:00","remote_addr":"127.0.0.10","request":"GET . HTTP/1.0",'
     '"request_method":"","status":"400","body_bytes_sent":"157","host":"shop.acme.test"}'),
]  # fmt: skip


def _index(client: Any, stream: str, events: list[dict[str, Any]]) -> None:
    body: list[dict[str, Any]] = []
    for event in events:
        body += [{"create": {"_index": stream}}, event]
    result = client.bulk(body=body, refresh=True)
    errors = [item["create"].get("error") for item in result["items"] if item["create"].get("error")]
    assert errors == []


def _count(client: Any, stream: str, query: dict[str, Any]) -> int:
    return int(client.count(index=stream, body={"query": query})["count"])


def test_parsed_events_index_and_search(isolated: Settings) -> None:
    client = search.client(isolated)
    names = search.names(isolated)
    _index(client, names.stream("logs-syslog", "so-test"), [run("syslog", line) for line in SYSLOG])
    _index(client, names.stream("logs-web", "so-test"), [run(kind, line) for kind, line in WEB])

    term = "term"
    assert _count(client, names.syslog, {term: {"source.ip": "127.0.0.31"}}) == 1
    assert _count(client, names.syslog, {term: {"event.outcome": "failure"}}) == 2
    assert _count(client, names.syslog, {term: {"user.target.name": "ROOT"}}) == 1  # case-insensitive keyword
    assert _count(client, names.syslog, {term: {"log.syslog.structured_data.origin.software": "rsyslogd"}}) == 1
    assert _count(client, names.syslog, {term: {"tags": "_parse_failure"}}) == 1
    assert _count(client, names.syslog, {term: {"soc.sequence": 12}}) == 1
    assert _count(client, names.web, {term: {"url.decoded.path": "/../../etc/passwd"}}) == 1
    assert _count(client, names.web, {term: {"http.response.status_code": 400}}) == 2
    assert _count(client, names.web, {term: {"user_agent.name": "Chrome"}}) == 1
