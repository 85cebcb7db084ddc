"""Web-server access logs into ECS: nginx/Apache ``combined`` and ``common`` (optionally prefixed
by a vhost, ``%v:%p``), and nginx ``log_format ... escape=json`` objects.

In the text formats nginx writes ``"`` and ``\\`` inside values as ``\\x22`` and ``\\x5C`` (Apache
as ``\\"`` and ``\\\\``); values are unescaped, ``event.original`` keeps the line as written. A
request line nginx could not parse (it answered 400) still gives what can be known.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from collectors.parsers import ParseContext, urls, useragent
from collectors.parsers.event import failure, ip, long, new, utc_iso
from collectors.parsers.text import unescape_log

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_TAIL = r" \[([^\]]{1,64})\] " + _QUOTED + r" (\d{3}|-) (\d+|-)(?: " + _QUOTED + " " + _QUOTED + ")?"
_PLAIN = re.compile(r"(\S+) (\S+) (\S+)" + _TAIL)
_VHOST = re.compile(r"(\S+) (\S+) (\S+) (\S+)" + _TAIL)
# second chance for writers that leave quotes unescaped: greedy, anchored at the numbers
_LOOSE = re.compile(r'(?:(\S+) )?(\S+) (\S+) (\S+) \[([^\]]{1,64})\] "(.*)" (\d{3}|-) (\d+|-)(?: "(.*)" "(.*)")?$')
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_WEB = ("web",)

DATASETS = {"nginx": "nginx.access", "apache": "apache.access", "nginx-json": "nginx.access"}


def parse_text(kind: str, text: str, ctx: ParseContext) -> dict[str, Any]:
    """A combined / common / vhost line (``kind`` is ``nginx`` or ``apache``)."""
    dataset = DATASETS[kind]
    found = _PLAIN.match(text)
    vhost = None
    if found is not None:
        client, _ident, name, stamp, request, status, size, referrer, agent = found.groups()
        fmt = "common" if agent is None else "combined"
    else:
        found = _VHOST.match(text) or _LOOSE.match(text)
        if found is None:
            return failure(text, dataset, ctx)
        vhost, client, _ident, name, stamp, request, status, size, referrer, agent = found.groups()
        fmt = ("vhost_" if vhost else "") + ("common" if agent is None else "combined")
    timestamp = _clf_time(stamp)
    if timestamp is None:
        return failure(text, dataset, ctx)
    domain = vhost.rsplit(":", 1)[0] if vhost and not vhost.endswith("]") else vhost
    request = unescape_log(request)
    method, target, version = urls.request_line(request)
    event = new(text, dataset, f"{kind}.{fmt}", timestamp)
    _fill(
        event,
        client=client,
        name=None if name == "-" else unescape_log(name),
        request=request,
        method=method,
        target=target,
        version=version,
        status=status,
        size=size,
        referrer=None if referrer in (None, "-", "") else unescape_log(referrer),
        agent=None if agent in (None, "-", "") else unescape_log(agent),
        domain=domain or ctx.domain,
    )
    return event


def parse_json(text: str, json_input: str, ctx: ParseContext) -> dict[str, Any]:
    """One nginx ``escape=json`` object (all values strings; empty string means absent)."""
    dataset = DATASETS["nginx-json"]
    try:
        record = json.loads(json_input)
    except ValueError:
        return failure(text, dataset, ctx)
    if not isinstance(record, dict):
        return failure(text, dataset, ctx)
    get = _getter(record)
    timestamp = None
    iso = get("time_iso8601")
    if iso:
        timestamp = _iso_time(iso)
    if timestamp is None:
        local = get("time_local")
        timestamp = _clf_time(local) if local else None
    if timestamp is None:
        return failure(text, dataset, ctx)
    request = get("request") or ""
    method = get("request_method")
    target = get("request_uri")
    version = get("server_protocol")
    if method and target:
        version = version[5:] if version and version.startswith("HTTP/") else version
    else:
        method, target, version = urls.request_line(request)
    event = new(text, dataset, "nginx.json", timestamp)
    _fill(
        event,
        client=get("remote_addr") or "-",
        name=get("remote_user"),
        request=request,
        method=method,
        target=target,
        version=version,
        status=get("status") or "-",
        size=get("body_bytes_sent") or "-",
        referrer=get("http_referer"),
        agent=get("http_user_agent"),
        domain=get("host") or get("server_name") or ctx.domain,
        mime=get("content_type"),
    )
    return event


def _getter(record: dict[str, Any]) -> Any:
    def get(key: str) -> str | None:
        value = record.get(key)
        if value is None or value == "" or value == "-":
            return None
        text = value if isinstance(value, str) else str(value)
        return text.replace("\x00", "\\x00") if "\x00" in text else text

    return get


def _fill(
    event: dict[str, Any],
    *,
    client: str,
    name: str | None,
    request: str,
    method: str | None,
    target: str | None,
    version: str | None,
    status: str,
    size: str,
    referrer: str | None,
    agent: str | None,
    domain: str | None,
    mime: str | None = None,
) -> None:
    address = ip(client)
    if address is not None:
        event["source"] = {"ip": address}
        event["related"] = {"ip": [address]}
    elif client != "-":
        event["source"] = {"address": client}
    if name:
        event["user"] = {"name": name}
        event.setdefault("related", {})["user"] = [name]
    http: dict[str, Any] = {}
    request_fields: dict[str, Any] = {}
    if method:
        request_fields["method"] = method.upper()
    if referrer:
        request_fields["referrer"] = referrer
    if mime:
        request_fields["mime_type"] = mime
    if request_fields:
        http["request"] = request_fields
    if version:
        http["version"] = version
    response: dict[str, Any] = {}
    code = long(status)
    if code is not None:
        response["status_code"] = code
    body = long(size)
    if body is not None:
        response["body"] = {"bytes": body}
    if response:
        http["response"] = response
    if http:
        event["http"] = http
    if target:
        event["url"] = urls.fields(target, domain)
    else:
        if domain:
            event["url"] = {"domain": domain}
        if request and request != "-":
            event["message"] = request
    if agent:
        event["user_agent"] = useragent.fields(agent)
    node = event["event"]
    node["category"] = list(_WEB)
    if code is not None:
        failed = code >= 400
        node["type"] = ["access", "error"] if failed else ["access"]
        node["outcome"] = "failure" if failed else "success"
    else:
        node["type"] = ["access"]


@lru_cache(maxsize=4096)
def _clf_time(stamp: str) -> str | None:
    """``26/Nov/2026:23:59:14 +0000`` -> UTC ISO."""
    try:
        day, month, rest = stamp.split("/", 2)
        year, hour, minute, tail = rest.split(":", 3)
        second, _, offset = tail.partition(" ")
        zone: tzinfo = UTC
        if offset:
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
            zone = timezone(-delta if offset[0] == "-" else delta)
        moment = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=zone)
        return utc_iso(moment)
    except (ValueError, KeyError, IndexError, OverflowError):
        return None


@lru_cache(maxsize=4096)
def _iso_time(stamp: str) -> str | None:
    try:
        moment = datetime.fromisoformat(stamp)
        return utc_iso(moment)
    except (ValueError, OverflowError):
        return None
