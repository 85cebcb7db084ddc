"""Feeds pulled from a URL on a schedule (a national CERT's list, a partner's MISP export...).

A subscription names the feed, its http(s) URL, its format (or ``auto``), how often to pull it, the
validity given to indicators that carry none, an optional default confidence and, when the server
wants one, the name of an environment variable (``SOC_FEED_*``) holding an authorization header's
value: the secret stays in the service's environment, never in the stored document.

A pull is a conditional GET (the last ETag and Last-Modified): 304 changes nothing. Otherwise the
body, bounded in size and time, goes through the same readers and the same all-or-nothing import as
``soc intel import``; a pull that fails (unreachable server, HTTP error, too large, malformed) only
records its error, and the indicators of the last good pull keep matching. After a good pull, the
feed's indicators that it no longer lists stop matching (``withdraw``, on by default). New
indicators are searched for in the past by the next detection cycle, as any import's are.

The scheduler checks every minute for due feeds. A pull takes a lease on the feed's document
(a conditional write), so two service processes never pull the same feed at once.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opensearchpy import OpenSearch

from soc import __version__, search
from soc.audit import store as audit
from soc.auth import Principal
from soc.config import Settings
from soc.errors import ConfigError, Conflict, Invalid, NotFound
from soc.intel import service
from soc.intel import store as intel_store
from soc.search import Names

log = logging.getLogger(__name__)

AUTH_ENV = re.compile(r"^SOC_FEED_[A-Z0-9_]{1,64}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_S, MAX_INTERVAL_S = 60, 30 * 86400
SYSTEM = Principal("scheduler:intel-feeds", "admin", ("*",))  # who a scheduled pull imports as


class FeedError(Exception):
    """A pull that could not fetch or read the feed; the message says why."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024  # a larger body is refused, not truncated
    connect_s: float = 10.0
    read_s: float = 30.0  # between two bytes
    total_s: float = 300.0  # the whole download
    max_redirects: int = 5
    lease_s: float = 1800.0  # a pull (download and import) of one feed; another process waits that long
    check_s: float = 60.0  # how often the scheduler looks for due feeds


def limits(env: dict[str, str] | None = None) -> Limits:
    env = dict(os.environ if env is None else env)
    base = Limits()
    try:
        return Limits(max_bytes=int(env.get("SOC_INTEL_FEED_MAX_BYTES", base.max_bytes)),
                      connect_s=float(env.get("SOC_INTEL_FEED_CONNECT_S", base.connect_s)),
                      read_s=float(env.get("SOC_INTEL_FEED_READ_S", base.read_s)),
                      total_s=float(env.get("SOC_INTEL_FEED_TOTAL_S", base.total_s)))
    except ValueError as exc:
        raise ConfigError(f"SOC_INTEL_FEED_* setting: {exc}") from None


def check_url(url: str) -> str:
    text = (url or "").strip()
    if len(text) > 2048 or any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise Invalid("feed URL: at most 2048 characters, without spaces or control characters")
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Invalid(f"feed URL {text[:200]!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"feed URL {text[:200]!r}: only http:// and https:// URLs with a host are pulled")
    if parsed.userinfo:
        raise Invalid("feed URL: no user or password in the URL (it would be stored); give the name of an "
                      "environment variable holding the authorization header (auth_env)")
    return text


def interval_seconds(value: str | int) -> int:
    m = INTERVAL.match(str(value))
    if not m:
        raise Invalid(f"interval {value!r}: a number of seconds, or a number followed by m, h or d (15m, 6h, 1d)")
    seconds = int(m.group(1)) * UNITS[m.group(2)]
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise Invalid(f"interval {value!r}: from 1 minute to 30 days")
    return seconds


def new_feed(name: str, url: str, fmt: str = "auto", interval: str | int = "1h", expires_days: float = 90.0,
             confidence: int | None = None, auth_env: str | None = None, auth_header: str = "Authorization",
             withdraw: bool = True, created_by: str = "", now: datetime | None = None) -> dict[str, Any]:
    """A subscription document, every field checked (Invalid naming the field)."""
    if not service.FEED_PATTERN.match(name or ""):
        raise Invalid(f"feed name {name!r}: letters, digits, '.', '_' and '-', at most 64 characters")
    if fmt not in service.FORMATS:
        raise Invalid(f"unknown format {fmt!r} ({', '.join(service.FORMATS)})")
    if not 0 <= expires_days <= 3650:
        raise Invalid(f"expires {expires_days} days: give 0 to 3650")
    if confidence is not None and not 0 <= confidence <= 100:
        raise Invalid(f"confidence {confidence}: give 0 to 100")
    if auth_env is not None and not AUTH_ENV.match(auth_env):
        raise Invalid(f"auth_env {auth_env!r}: the name of an environment variable starting with SOC_FEED_ "
                      "(upper-case letters, digits, '_'), whose value is the header's")
    if not HEADER_NAME.match(auth_header or ""):
        raise Invalid(f"auth_header {auth_header!r}: a header name (letters, digits, '-')")
    return {"name": name, "url": check_url(url), "format": fmt, "interval_s": interval_seconds(interval),
            "expires_days": float(expires_days), "confidence": confidence, "auth_env": auth_env,
            "auth_header": auth_header, "withdraw": bool(withdraw), "created": (now or datetime.now(UTC)).isoformat(),
            "created_by": created_by, "etag": None, "last_modified": None, "lease": {"owner": None, "until": None},
            "last": {"status": "never"}}


@dataclass
class Fetched:
    status: int  # 200 or 304
    text: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0


def _auth(feed: dict[str, Any], env: dict[str, str] | None) -> dict[str, str]:
    name = feed.get("auth_env")
    if not name:
        return {}
    value = (os.environ if env is None else env).get(name)
    if not value:
        raise FeedError(f"the environment variable {name} (the feed's authorization) is not set")
    return {str(feed.get("auth_header") or "Authorization"): value}


def fetch(feed: dict[str, Any], lim: Limits, env: dict[str, str] | None = None) -> Fetched:
    """GET the feed's URL, conditional on the last ETag / Last-Modified; FeedError saying why it failed.

    Redirects are followed by hand (at most ``max_redirects``, http and https only) so that the
    authorization header never goes to another origin (scheme, host, port) than the one configured.
    """
    url = httpx.URL(check_url(feed["url"]))
    origin = (url.scheme, url.host, url.port)
    secret = _auth(feed, env)
    headers = {"User-Agent": f"soc-intel-feeds/{__version__}", "Accept": "*/*"}
    if feed.get("etag"):
        headers["If-None-Match"] = feed["etag"]
    if feed.get("last_modified"):
        headers["If-Modified-Since"] = feed["last_modified"]
    deadline = time.monotonic() + lim.total_s
    timeout = httpx.Timeout(lim.read_s, connect=lim.connect_s)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _ in range(lim.max_redirects + 1):
                send = headers | (secret if (url.scheme, url.host, url.port) == origin else {})
                with client.stream("GET", url, headers=send) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        url = url.join(resp.headers["location"])
                        if url.scheme not in ("http", "https"):
                            raise FeedError(f"redirected to a {url.scheme or 'relative'} URL (only http and https)")
                        continue
                    return _read(resp, lim, deadline)
    except httpx.TimeoutException as exc:
        raise FeedError(f"timed out ({type(exc).__name__}) fetching {url.host}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FeedError(f"cannot fetch {url.host}: {type(exc).__name__}: {str(exc)[:300]}") from None
    raise FeedError(f"more than {lim.max_redirects} redirects")


def _read(resp: httpx.Response, lim: Limits, deadline: float) -> Fetched:
    if resp.status_code == 304:
        return Fetched(304)
    if resp.status_code != 200:
        raise FeedError(f"HTTP {resp.status_code} {resp.reason_phrase} from {resp.url.host}")
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > lim.max_bytes:
        raise FeedError(f"the feed is {int(declared):,} bytes, more than the {lim.max_bytes:,} accepted")
    body = bytearray()
    for chunk in resp.iter_bytes():  # decompressed: the bound applies to what would be read
        body += chunk
        if len(body) > lim.max_bytes:
            raise FeedError(f"the feed is more than the {lim.max_bytes:,} bytes accepted")
        if time.monotonic() > deadline:
            raise FeedError(f"the download took more than {lim.total_s:.0f} s")
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(f"the feed is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise FeedError("the feed is empty (a server fault is more likely than a feed withdrawing everything)")
    return Fetched(200, text, resp.headers.get("etag"), resp.headers.get("last-modified"), len(body))


@dataclass
class PullResult:
    feed: str
    status: str  # imported | unchanged | failed
    error: str | None = None
    http_status: int | None = None
    read: int = 0
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    notes: list[str] | None = None


def _claim(client: OpenSearch, names: Names, name: str, owner: str, now: datetime, lim: Limits,
           found: tuple[dict[str, Any], tuple[int, int]] | None = None) -> tuple[dict[str, Any], tuple[int, int]]:
    got = found or intel_store.feed_get(client, names, name)
    if got is None:
        raise NotFound(f"no feed {name!r}")
    feed, version = got
    lease = feed.get("lease") or {}
    until = lease.get("until")
    if lease.get("owner") not in (None, owner) and until and datetime.fromisoformat(until) > now:
        raise Conflict(f"feed {name!r} is being pulled by {lease['owner']} (lease until {until})")
    held = {"owner": owner, "until": (now + timedelta(seconds=lim.lease_s)).isoformat()}
    version2 = intel_store.feed_update(client, names, name, {"lease": held}, version)
    if version2 is None:
        raise Conflict(f"feed {name!r} is being pulled by another process")
    return feed, version2


def pull(client: OpenSearch, names: Names, who: Principal, name: str, owner: str | None = None,
         now: datetime | None = None, lim: Limits | None = None, env: dict[str, str] | None = None,
         found: tuple[dict[str, Any], tuple[int, int]] | None = None) -> PullResult:
    """Pulls one feed now (whether due or not). Conflict when another process is pulling it."""
    who.require_admin(global_scope=True)
    lim = lim or limits(env)
    now = now or datetime.now(UTC)
    owner = owner or f"{who.name}-{uuid.uuid4().hex[:8]}"
    feed, version = _claim(client, names, name, owner, now, lim, found)
    result = PullResult(name, "failed")
    update: dict[str, Any] = {}
    try:
        got = fetch(feed, lim, env)
        result.http_status = got.status
        if got.status == 304:
            result.status = "unchanged"
        else:
            imported = service.import_text(client, names, who, got.text or "", name, feed.get("format") or "auto",
                                           None, float(feed.get("expires_days", 90.0)), f"feed {name}", now,
                                           feed.get("confidence"))
            result.status, result.read, result.notes = "imported", imported.read, imported.notes
            result.created, result.updated = imported.created, imported.updated
            if feed.get("withdraw", True) and imported.read:
                result.withdrawn = intel_store.withdraw(client, names, name, now)
            update = {"etag": got.etag, "last_modified": got.last_modified}
            update["last"] = {"imported": now.isoformat(), "bytes": got.size, "read": result.read,
                              "created": result.created, "updated": result.updated, "withdrawn": result.withdrawn}
    except (FeedError, Invalid) as exc:
        result.error = str(exc)[:2000]
    except Exception as exc:  # the store refused a write: recorded, and the scheduler's log has the trace
        result.error = f"{type(exc).__name__}: {str(exc)[:1000]}"
        log.exception("pulling feed %s failed", name)
    last = {**(feed.get("last") or {}), **update.pop("last", {}),
            "attempt": now.isoformat(), "status": result.status, "error": result.error,
            "http_status": result.http_status}
    update |= {"last": last, "lease": {"owner": None, "until": None}}
    if intel_store.feed_update(client, names, name, update, version) is None:
        log.warning("feed %s: the outcome of its pull could not be recorded (changed or removed meanwhile)", name)
    if result.status == "failed":
        log.warning("feed %s: pull failed: %s", name, result.error)
    return result


def due(feed: dict[str, Any], now: datetime) -> bool:
    attempt = (feed.get("last") or {}).get("attempt")
    return not attempt or datetime.fromisoformat(attempt) + timedelta(seconds=int(feed["interval_s"])) <= now


def pull_due(client: OpenSearch, names: Names, owner: str, now: datetime | None = None,
             lim: Limits | None = None, env: dict[str, str] | None = None) -> list[PullResult]:
    """Pulls every feed whose interval has passed since its last attempt, unless another process is on it."""
    now = now or datetime.now(UTC)
    out = []
    for feed, version in intel_store.feed_list(client, names):
        if not due(feed, now):
            continue
        try:
            out.append(pull(client, names, SYSTEM, feed["name"], owner, now, lim, env, (feed, version)))
        except (Conflict, NotFound):
            continue  # another process pulls it, or it was removed meanwhile
    return out


def add(client: OpenSearch, names: Names, who: Principal, doc: dict[str, Any]) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    doc = {**doc, "created_by": who.name}
    if not intel_store.feed_create(client, names, doc["name"], doc):
        raise Conflict(f"a feed {doc['name']!r} exists (remove it first)")
    audit.append(client, names, [audit.entry(datetime.now(UTC), who.name, "intel.feed.add", "feed", doc["name"], None,
                                             f"pulled from {doc['url'][:200]} every {doc['interval_s']} s")])
    return doc


def listing(client: OpenSearch, names: Names, who: Principal) -> list[dict[str, Any]]:
    who.require_admin(global_scope=True)  # URLs can carry a feed's access key in their query
    return [feed for feed, _ in intel_store.feed_list(client, names)]


def remove(client: OpenSearch, names: Names, who: Principal, name: str) -> None:
    """Ends the subscription; the feed's indicators stay until they expire or are removed."""
    who.require_admin(global_scope=True)
    if not intel_store.feed_delete(client, names, name):
        raise NotFound(f"no feed {name!r}")
    audit.append(client, names, [audit.entry(datetime.now(UTC), who.name, "intel.feed.remove", "feed", name, None,
                                             "subscription removed")])


def add_jobs(scheduler: Any, settings: Settings) -> None:
    """Registers the due-feeds check on the service's scheduler (not started here)."""
    owner = f"feeds-{uuid.uuid4().hex[:8]}"
    lim = limits()

    def job() -> None:
        pull_due(search.client(settings), search.names(settings), owner, lim=lim)

    scheduler.add_job(job, "interval", seconds=lim.check_s, id="intel-feeds", max_instances=1, coalesce=True)
