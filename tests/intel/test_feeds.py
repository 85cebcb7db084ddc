"""Feeds pulled from a URL: a loopback HTTP server started here serves a STIX bundle, a MISP event and a
CSV list; the indicators go into the real node and are matched by real detection cycles."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc import cli, search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.errors import Conflict, Invalid
from soc.intel import feeds
from soc.intel import store as intel_store
from soc.main import create_app
from soc.runtime import Runtime
from soc.scheduler import ServiceScheduler
from tests.intel.feeds import ADMIN, ago, cycle, intel_alerts, misp_event, stix_bundle, web_event, write

LIMITS = feeds.Limits(connect_s=5, read_s=10, total_s=30)


class Files:
    """What the loopback server serves: path -> body, with an ETag from the content; every request seen."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.require: dict[str, tuple[str, str]] = {}  # path -> (header, value) it must carry

    def handler(self) -> type[BaseHTTPRequestHandler]:
        files = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                files.requests.append((self.path, dict(self.headers)))
                need = files.require.get(self.path)
                if need and self.headers.get(need[0]) != need[1]:
                    return self._send(401, b"authorization required")
                if self.path.startswith("/moved/"):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/moved"))
                    self.end_headers()
                    return None
                body = files.bodies.get(self.path)
                if body is None:
                    return self._send(404, b"no such feed")
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                return self._send(200, body, etag)

            def _send(self, code: int, body: bytes, etag: str | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture()
def server() -> Iterator[tuple[Files, str]]:
    files = Files()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), files.handler())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield files, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _client(settings: Settings) -> tuple[Any, search.Names]:
    return search.client(settings), search.names(settings)


def _add(settings: Settings, name: str, url: str, **kw: Any) -> None:
    client, names = _client(settings)
    feeds.add(client, names, ADMIN, feeds.new_feed(name, url, **kw))


def _pull(settings: Settings, name: str, now: datetime | None = None, **kw: Any) -> feeds.PullResult:
    client, names = _client(settings)
    return feeds.pull(client, names, ADMIN, name, now=now, lim=kw.pop("lim", LIMITS), **kw)


def _live(settings: Settings, feed: str) -> set[str]:
    client, names = _client(settings)
    rows, _ = intel_store.listing(client, names, feed, 1000)
    now = datetime.now(UTC)
    return {r["name"] for r in rows
            if datetime.fromisoformat(r["valid_until"].replace("Z", "+00:00")) > now}


def _feed(settings: Settings, name: str) -> dict[str, Any]:
    got = intel_store.feed_get(*_client(settings), name)
    assert got is not None
    return got[0]


STIX = stix_bundle("[ipv4-addr:value = '198.51.100.7']", "[url:value = 'http://bad.example.net/a']")
MISP = misp_event(("domain", "phish.example.org"), ("ip-dst", "203.0.113.50"))
CSV = "value,type,confidence\n192.0.2.66,ip,90\nevil.example.com,domain,\n"


def test_scheduled_pulls_import_three_formats_then_304_changes_and_failures(isolated: Settings,
                                                                             server: tuple[Files, str]) -> None:
    files, base = server
    files.bodies |= {"/cert.json": STIX.encode(), "/misp.json": MISP.encode(), "/list.csv": CSV.encode()}
    _add(isolated, "cert", f"{base}/cert.json", interval="1h")
    _add(isolated, "partner", f"{base}/misp.json", interval="1h", fmt="misp")
    _add(isolated, "blocklist", f"{base}/list.csv", interval="15m", confidence=50)
    client, names = _client(isolated)
    write(isolated, [web_event({"source.ip": "198.51.100.7"}, when=ago(days=3)),
                     web_event({"url.domain": "evil.example.com"}, when=ago(days=2))])
    cycle(isolated)  # no indicator yet: these events are behind the detection windows from now on

    t0 = datetime.now(UTC)
    done = {r.feed: r for r in feeds.pull_due(client, names, "test-runner", t0, LIMITS)}
    assert {f: (r.status, r.read, r.created, r.error) for f, r in done.items()} == {
        "cert": ("imported", 2, 2, None), "partner": ("imported", 2, 2, None), "blocklist": ("imported", 2, 2, None)}
    assert _live(isolated, "partner") == {"phish.example.org", "203.0.113.50"}
    rows, _ = intel_store.listing(client, names, "blocklist")
    assert {r["name"]: r["confidence"] for r in rows} == {"192.0.2.66": 90, "evil.example.com": 50}
    last = _feed(isolated, "cert")["last"]
    assert (last["status"], last["read"], last["http_status"], last["error"]) == ("imported", 2, 200, None)

    cycle(isolated)  # the new indicators are searched for in the past, as any import's
    retro = {a["threat"]["matched"]["atomic"]: a for a in intel_alerts(isolated)}
    assert set(retro) == {"198.51.100.7", "evil.example.com"}
    assert {a["threat"]["matched"]["how"] for a in retro.values()} == {"retro-hunt"}
    assert retro["evil.example.com"]["threat"]["feed"] == {"name": "blocklist"}

    assert feeds.pull_due(client, names, "test-runner", t0 + timedelta(minutes=5), LIMITS) == []  # none due
    before = {r["id"]: r["last_import"] for r in intel_store.listing(client, names, None, 100)[0]}
    asked = len(files.requests)
    later = feeds.pull_due(client, names, "test-runner", t0 + timedelta(minutes=20), LIMITS)
    assert [(r.feed, r.status, r.http_status) for r in later] == [("blocklist", "unchanged", 304)]
    assert files.requests[asked][1]["If-None-Match"] == _feed(isolated, "blocklist")["etag"]
    assert {r["id"]: r["last_import"] for r in intel_store.listing(client, names, None, 100)[0]} == before

    # changed: one value gone, one new; the gone one stops matching at the pull
    files.bodies["/list.csv"] = b"value,type\nevil.example.com,domain\n192.0.2.77,ip\n"
    changed = _pull(isolated, "blocklist")
    assert (changed.status, changed.read, changed.created, changed.updated, changed.withdrawn) == (
        "imported", 2, 1, 1, 1)
    assert _live(isolated, "blocklist") == {"evil.example.com", "192.0.2.77"}

    # malformed: the error is recorded, the last good pull's indicators keep matching
    files.bodies["/cert.json"] = b'{"type": "bundle", "objects": [ {"type": "indicator", '
    bad = _pull(isolated, "cert")
    assert bad.status == "failed" and bad.error is not None and "not valid JSON" in bad.error
    assert "nothing was imported" in bad.error
    cert = _feed(isolated, "cert")
    assert (cert["last"]["status"], cert["last"]["error"], cert["last"]["read"]) == ("failed", bad.error, 2)
    assert cert["etag"] is not None and cert["lease"] == {"owner": None, "until": None}
    assert _live(isolated, "cert") == {"198.51.100.7", "http://bad.example.net/a"}
    write(isolated, [web_event({"source.ip": "198.51.100.7", "url.original": "/new"})])
    cycle(isolated)
    window = [a for a in intel_alerts(isolated) if a["threat"]["matched"]["how"] == "window"]
    assert [(a["threat"]["matched"]["atomic"], a["threat"]["feed"]["name"]) for a in window] == [
        ("198.51.100.7", "cert")]

    # the server is down: recorded, nothing changes
    files.bodies["/cert.json"] = STIX.encode()
    gone = feeds.new_feed("gone", f"http://127.0.0.1:{_free_port()}/feed.txt")
    feeds.add(client, names, ADMIN, gone)
    down = _pull(isolated, "gone")
    assert down.status == "failed" and down.error is not None and "cannot fetch 127.0.0.1: ConnectError" in down.error
    assert _feed(isolated, "gone")["last"]["status"] == "failed" and _live(isolated, "gone") == set()
    assert _live(isolated, "cert") == {"198.51.100.7", "http://bad.example.net/a"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_secret_comes_from_the_environment_and_limits_hold(isolated: Settings, server: tuple[Files, str]) -> None:
    files, base = server
    files.bodies["/private.txt"] = b"# partner list\n198.51.100.99\nbad-actor.example.net\n"
    files.require["/private.txt"] = ("X-Api-Key", "s3cret-value")
    _add(isolated, "private", f"{base}/moved/private.txt", auth_env="SOC_FEED_PARTNER_KEY", auth_header="X-Api-Key")
    stored = json.dumps(_feed(isolated, "private"))
    assert "SOC_FEED_PARTNER_KEY" in stored and "s3cret" not in stored

    unset = _pull(isolated, "private", env={})
    assert unset.status == "failed" and unset.error == (
        "the environment variable SOC_FEED_PARTNER_KEY (the feed's authorization) is not set")
    ok = _pull(isolated, "private", env={"SOC_FEED_PARTNER_KEY": "s3cret-value"})
    assert (ok.status, ok.read, ok.created) == ("imported", 2, 2)  # through the redirect, the key kept (same host)
    assert [p for p, _ in files.requests] == ["/moved/private.txt", "/private.txt"]
    assert "s3cret" not in json.dumps(_feed(isolated, "private"))

    files.bodies["/big.txt"] = b"\n".join(f"198.51.100.{i}".encode() for i in range(1, 200))
    _add(isolated, "big", f"{base}/big.txt")
    big = _pull(isolated, "big", lim=feeds.Limits(max_bytes=1000))
    assert big.status == "failed" and big.error == "the feed is 2,876 bytes, more than the 1,000 accepted"
    assert _live(isolated, "big") == set()
    missing = feeds.new_feed("missing", f"{base}/nothing.json")
    feeds.add(*_client(isolated), ADMIN, missing)
    assert _pull(isolated, "missing").error == "HTTP 404 Not Found from 127.0.0.1"
    files.bodies["/private.txt"] = b"\n\n"  # an empty answer never withdraws the feed's indicators
    empty = _pull(isolated, "private", env={"SOC_FEED_PARTNER_KEY": "s3cret-value"})
    assert empty.status == "failed" and empty.error is not None and empty.error.startswith("the feed is empty")
    assert _live(isolated, "private") == {"198.51.100.99", "bad-actor.example.net"}


@pytest.mark.parametrize("url, why", [
    ("file:///etc/passwd", "only http:// and https:// URLs"),
    ("ftp://198.51.100.1/feed.txt", "only http:// and https:// URLs"),
    ("http://user:pw@198.51.100.1/feed.txt", "no user or password in the URL"),
    ("http://198.51.100.1/a b", "without spaces"),
    ("http:///feed.txt", "http"),
])
def test_a_feed_is_only_an_http_or_https_url(url: str, why: str) -> None:
    with pytest.raises(Invalid) as err:
        feeds.new_feed("x", url)
    assert why in str(err.value)


def test_settings_of_a_feed_are_checked() -> None:
    for kw, why in (({"interval": "30s"}, "from 1 minute to 30 days"), ({"interval": "often"}, "a number"),
                    ({"auth_env": "SOC_OPENSEARCH_PASSWORD"}, "starting with SOC_FEED_"),
                    ({"confidence": 101}, "0 to 100"), ({"fmt": "xml"}, "unknown format")):
        with pytest.raises(Invalid) as err:
            feeds.new_feed("x", "https://cert.example.net/feed.json", **kw)
        assert why in str(err.value)
    assert feeds.new_feed("x", "https://cert.example.net/feed", interval="6h")["interval_s"] == 21600


def test_one_process_at_a_time_pulls_a_feed(isolated: Settings, server: tuple[Files, str]) -> None:
    files, base = server
    files.bodies["/l.txt"] = b"198.51.100.5\n"
    _add(isolated, "shared", f"{base}/l.txt")
    client, names = _client(isolated)
    now = datetime.now(UTC)
    feeds._claim(client, names, "shared", "process-a", now, LIMITS)
    with pytest.raises(Conflict):
        feeds.pull(client, names, ADMIN, "shared", "process-b", now, LIMITS)
    assert feeds.pull_due(client, names, "process-b", now, LIMITS) == []  # skipped while a holds it
    assert files.requests == []
    # a lease left by a process that died is taken over once it ends
    result = feeds.pull(client, names, ADMIN, "shared", "process-b", now + timedelta(seconds=LIMITS.lease_s + 1),
                        LIMITS)
    assert result.status == "imported" and _feed(isolated, "shared")["lease"]["owner"] is None

    scheduler = ServiceScheduler(isolated)  # the service's scheduler checks for due feeds every minute
    job = scheduler.scheduler.get_job("intel-feeds")
    assert job is not None and job.trigger.interval.total_seconds() == LIMITS.check_s == 60


def _bearer(settings: Settings, role: str, agencies: list[str]) -> dict[str, str]:
    token = accounts_store.create_token(*_client(settings), f"u-{role}", role, agencies)
    return {"Authorization": f"Bearer {token}"}


def test_feeds_through_the_api_and_the_command(isolated: Settings, server: tuple[Files, str],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    files, base = server
    files.bodies["/cert.json"] = STIX.encode()
    admin = _bearer(isolated, "admin", ["*"])
    body = {"name": "cert", "url": f"{base}/cert.json", "interval": "6h", "confidence": 70}
    with TestClient(create_app(runtime=Runtime.build(isolated))) as api:
        for who in (_bearer(isolated, "analyst", ["*"]), _bearer(isolated, "admin", ["so-tttt"])):
            assert api.post("/api/v1/intel/feeds", json=body, headers=who).status_code == 403
            assert api.get("/api/v1/intel/feeds", headers=who).status_code == 403
        bad = api.post("/api/v1/intel/feeds", json=body | {"url": "file:///etc/shadow"}, headers=admin)
        assert bad.status_code == 422 and "only http:// and https://" in bad.text
        made = api.post("/api/v1/intel/feeds", json=body, headers=admin)
        assert made.status_code == 201, made.text
        assert made.json()["interval_s"] == 21600 and made.json()["last"] == {"status": "never"}
        assert api.post("/api/v1/intel/feeds", json=body, headers=admin).status_code == 409
        pulled = api.post("/api/v1/intel/feeds/cert/pull", headers=admin)
        assert pulled.status_code == 200 and pulled.json() | {"notes": []} == {
            "feed": "cert", "status": "imported", "error": None, "http_status": 200, "read": 2, "created": 2,
            "updated": 0, "withdrawn": 0, "notes": []}
        again = api.post("/api/v1/intel/feeds/cert/pull", headers=admin).json()
        assert (again["status"], again["http_status"]) == ("unchanged", 304)
        listed = api.get("/api/v1/intel/feeds", headers=admin).json()
        assert [(f["name"], f["last"]["status"], f["last"]["read"]) for f in listed] == [("cert", "unchanged", 2)]
        assert api.post("/api/v1/intel/feeds/nope/pull", headers=admin).status_code == 404
        assert api.delete("/api/v1/intel/feeds/cert", headers=admin).status_code == 204
        assert api.get("/api/v1/intel/feeds", headers=admin).json() == []
    assert _live(isolated, "cert") == {"198.51.100.7", "http://bad.example.net/a"}  # the indicators stay

    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", isolated.index_prefix)
    files.bodies["/l.csv"] = CSV.encode()
    assert cli.main(["intel", "feed", "add", "lst", f"{base}/l.csv", "--interval", "15m"]) == 0
    assert cli.main(["intel", "feed", "pull", "lst"]) == 0
    assert "feed lst: 2 indicators read: 2 new, 0 updated, 0 no longer listed (ended)" in capsys.readouterr().out
    files.bodies["/l.csv"] = b"value\nnot a value at all\n"
    assert cli.main(["intel", "feed", "pull", "lst"]) == 1
    out = capsys.readouterr().out
    assert "feed lst: pull failed, the indicators of its last good pull stay: feed lst: line 2:" in out
    assert cli.main(["intel", "feed", "list"]) == 0
    out = capsys.readouterr().out
    assert "lst\tauto\tevery 900 s" in out and "last: failed" in out and "1 feeds" in out
    assert cli.main(["intel", "feed", "remove", "lst"]) == 0
    assert _feed_count(isolated) == 0 and _live(isolated, "lst") == {"192.0.2.66", "evil.example.com"}


def _feed_count(settings: Settings) -> int:
    return len(intel_store.feed_list(*_client(settings)))
