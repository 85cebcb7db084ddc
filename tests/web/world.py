"""A small real world for the console tests: users, agencies, parsed access-log lines in the
logs-web stream, one detection cycle with the project's rules, and grouping into incidents."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from opensearchpy import OpenSearch

from collectors.parsers import ParseContext
from collectors.parsers.dispatch import parse
from soc import search
from soc.accounts import store as accounts_store
from soc.agencies import service as agencies
from soc.auth import Principal
from soc.config import Settings
from soc.detection import convert, rules, runner
from soc.detection.runner import CycleReport
from soc.detection.settings import DetectionSettings
from soc.incidents import grouping
from soc.incidents.service import IncidentService
from soc.main import create_app
from soc.runtime import Runtime
from soc.sources import service as sources

RULES = Path(__file__).resolve().parents[2] / "rules" / "web"
PASSWORD = "correct horse battery"
AGENCY = "agency-a"
HOSTILE_IP = "203.0.113.66"
BENIGN_IP = "198.51.100.20"
SCANNER_IP = "203.0.113.77"
# Our own hostile lines: script tags and event handlers in the request and in the User-Agent.
OWN_LINES = [
    f'{HOSTILE_IP} - - [27/Nov/2026:00:00:01 +0000] "GET /search?q=<script>alert(\'own-1\')</script> HTTP/1.1" '
    f'200 153 "-" "<img src=x onerror=alert(\'own-2\')>"',
    f'{HOSTILE_IP} - - [27/Nov/2026:00:00:02 +0000] "GET /p?x=%22%3E%3Csvg/onload=alert(\'own-3\')%3E HTTP/1.1" '
    f'200 153 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"',
    f'{HOSTILE_IP} - - [27/Nov/2026:00:00:03 +0000] "GET /x?a=<body%20onload=alert(\'own-4\')> HTTP/1.1" '
    f'404 153 "-" "\\x22><iframe src=javascript:alert(\'own-5\')>"',
    f'{HOSTILE_IP} - - [27/Nov/2026:00:00:04 +0000] "GET /robots.txt HTTP/1.1" 200 40 "-" '
    f'"Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:Port Check)"',
    f'{SCANNER_IP} - - [27/Nov/2026:00:00:05 +0000] "GET /../../etc/passwd HTTP/1.1" 400 157 "-" "curl/7.88.1"',
    f'{BENIGN_IP} - - [27/Nov/2026:00:00:06 +0000] "GET /products/jacket HTTP/1.1" 200 5120 "-" '
    f'"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"',
]


def hostile_shared_lines(shared: Path | None, limit: int = 6) -> list[str]:
    """Real nikto and curl lines carrying <script> or event handlers, from the shared test data."""
    if shared is None:
        return []
    path = shared / "testdata" / "nginx" / "access.log"
    picked: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        low = line.lower()
        if "<script" in low or "onerror" in low or "onload" in low:
            picked.append(line)
        if len(picked) >= limit:
            break
    return picked


def index_lines(client: OpenSearch, settings: Settings, lines: list[str], source_id: str) -> None:
    names = search.names(settings)
    ctx = ParseContext(received_at=datetime.now(UTC))
    ops: list[dict[str, Any]] = []
    for line in lines:
        event = parse("nginx", line.encode("utf-8"), ctx)
        event["organization"] = {"id": AGENCY}
        event["log"] = {"source": {"id": source_id}}
        ops += [{"create": {"_index": names.stream("logs-web", event["organization"]["id"])}}, event]
    resp = client.bulk(body=ops, refresh=True)
    assert not resp["errors"], resp


def detect(settings: Settings) -> CycleReport:
    """One detection cycle over the streams, with the project's web rules (settled at once)."""
    loaded, problems = rules.load([RULES])
    assert not problems
    ds = DetectionSettings(settle_s=0.0, rule_paths=(RULES,))
    report = runner.run_cycle(settings, ds, convert.compile_rules(loaded))
    assert report.ran and not report.errors, report
    search.client(settings).indices.refresh(index=search.names(settings).alerts)
    return report


@dataclass
class World:
    settings: Settings
    rt: Runtime
    web_source: str
    incidents: dict[str, str] = field(default_factory=dict)  # "<rule title>|<ip>" -> incident id (of its rules)

    def incident(self, rule_word: str, ip: str) -> str:
        for key, ident in self.incidents.items():
            title, _, addr = key.partition("|")
            if rule_word.lower() in title.lower() and addr == ip:
                return ident
        raise KeyError(f"no incident for {rule_word} / {ip}: {sorted(self.incidents)}")

    def doc(self, incident_id: str) -> dict[str, Any]:
        return self.rt.incidents.get(incident_id).doc


SHARED_USED = False


def build(settings: Settings, shared: Path | None) -> World:
    global SHARED_USED
    SHARED_USED = shared is not None
    client = search.client(settings)
    names = search.names(settings)
    accounts_store.create_user(client, names, "ana", "analyst", [AGENCY], PASSWORD)
    accounts_store.create_user(client, names, "vic", "viewer", [AGENCY], PASSWORD)
    accounts_store.create_user(client, names, "bob", "analyst", ["agency-b"], PASSWORD)
    root = Principal("seed", "admin", ("*",))
    for agency, zone in ((AGENCY, "Asia/Ho_Chi_Minh"), ("agency-b", "Asia/Bangkok")):
        agencies.add(client, names, root, agencies.new_document(agency, f"Sở {agency}", f"Agency {agency}", zone))
    web = sources.new_source(client, names, root, AGENCY, "nginx", "Public web site", host="www.agency-a.example")
    sources.new_source(client, names, root, AGENCY, "syslog", "Edge firewall", collector_address="col.agency-a.example",
                       silence_after=30, now=datetime.now(UTC) - timedelta(hours=2))
    index_lines(client, settings, OWN_LINES + hostile_shared_lines(shared), web["id"])
    detect(settings)
    rt = Runtime.build(settings)
    grouping.run(rt)
    # what grouping wrote (incidents, their audit entries) is searchable before any page is opened:
    # the incident page's timeline reads the audit entries by search
    search.client(settings).indices.refresh(index=f"{settings.index_prefix}*")
    world = World(settings, rt, web["id"])
    page = IncidentService(rt).search(root, {"limit": 200, "sort": "-severity"})
    for stored in page["items"]:
        doc = stored.doc
        ip = next((e.split("=", 1)[1] for e in doc["entities"] if e.startswith("source.ip=")), "")
        # an attacker's incident collects several rules: it is found by the name of any of them
        for _, alert in rt.alerts.search([{"term": {"incident_id": doc["id"]}}], 200):
            world.incidents[f"{alert['rule']['name']}|{ip}"] = doc["id"]
    return world


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on 127.0.0.1 and a free port, in a thread; the socket listens before the thread starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def app_for(world: World) -> FastAPI:
    return create_app(runtime=world.rt)
