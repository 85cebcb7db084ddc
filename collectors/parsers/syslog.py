"""Syslog records into ECS: RFC 5424, RFC 3164 and the forms real senders and files use.

Accepted, each with or without ``<PRI>``:

- RFC 5424: ``<38>1 2026-11-26T23:59:17.2+00:00 vm sshd 18241 - [sd] msg`` (structured data kept);
- BSD / RFC 3164: ``Nov 26 23:59:17 vm sshd[18241]: msg``, with or without a host name, with a
  year (``Nov 26 2026 ...``), fractional seconds, a zone name, and Cisco IOS forms
  (``<189>123: router: *Mar  1 00:00:00.123 UTC: %SYS-5-CONFIG_I: ...``);
- rsyslog's file format with an RFC 3339 stamp: ``2026-11-26T23:59:17.2+00:00 vm sshd[18241]: msg``.

Program messages are then enriched by :mod:`collectors.parsers.linux`.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from collectors.parsers import ParseContext, clock, linux, structured_data
from collectors.parsers.event import PARSE_FAILURE, failure, ip, long, new, tag, utc_iso

DATASET = "syslog"

_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7",
)  # fmt: skip
_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_ISO = re.compile(r"(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:?\d\d)?) ")
_BSD = re.compile(
    r"(?:(\d{1,10}): )?"  # Cisco sequence number
    r"(?:([^\s:*.][^\s:]{0,254}): )?"  # Cisco origin host
    r"([*.]?)(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (?:(\d{4}) )?"
    r"(\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(?: ([A-Z]{3,5})(?=:))?:? ?"
)
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\[\]\s]{0,32})\])?:(?: |$)")
_UTC_ABBREVIATIONS = frozenset({"UTC", "GMT", "UT"})


def parse(text: str, ctx: ParseContext) -> dict[str, Any]:
    pri = None
    pos = 0
    if text.startswith("<"):
        head = _PRI.match(text)
        if head is not None:
            pri = int(head.group(1))
            pos = head.end()
    if pri is not None and text.startswith("1 ", pos):
        found = _RFC5424.match(text, pos)
        if found is not None:
            event = _rfc5424(text, found, ctx)
            if event is not None:
                _priority(event, pri)
                return event
    where = clock.zone(ctx.timezone)
    event = _bsd(text, pos, ctx, where)
    if event is None:
        event = failure(text, DATASET, ctx)
        if pri is not None:
            _priority(event, pri)
            event["message"] = text[pos:]
        return event
    if pri is not None:
        _priority(event, pri)
    if where is None:
        tag(event, "_timezone_unknown")
    return event


def _rfc5424(text: str, found: re.Match[str], ctx: ParseContext) -> dict[str, Any] | None:
    stamp, hostname, appname, procid, msgid = found.groups()
    zone = clock.zone(ctx.timezone) or clock.zone("UTC")
    assert zone is not None
    timestamp = utc_iso(ctx.received_at) if stamp == "-" else clock.rfc3339(stamp, zone)
    if timestamp is None:
        return None
    pos = found.end()
    elements = None
    if text.startswith("-", pos):
        pos += 1
    elif text.startswith("[", pos):
        read = structured_data.parse(text, pos)
        if read is not None:
            elements, pos = read
    message = text[pos:]
    if message.startswith(" "):
        message = message.lstrip(" ")
    if message.startswith("\ufeff"):
        message = message[1:]
    event = new(text, DATASET, "rfc5424", timestamp)
    syslog: dict[str, Any] = {"version": "1"}
    event["log"] = {"syslog": syslog}
    if elements is not None:
        syslog["structured_data"] = elements
    if msgid != "-":
        syslog["msgid"] = msgid
    if hostname != "-":
        syslog["hostname"] = hostname
    _host(event, hostname if hostname != "-" else None, ctx)
    program = None
    if appname != "-":
        syslog["appname"] = appname
        program = appname
    pid = None
    if procid != "-":
        syslog["procid"] = procid
        pid = long(procid)
    event["message"] = message
    _process(event, program, pid, message)
    return event


def _bsd(text: str, pos: int, ctx: ParseContext, where: tzinfo | None) -> dict[str, Any] | None:
    zone = where or clock.zone("UTC")
    assert zone is not None
    iso = _ISO.match(text, pos)
    origin = sequence = None
    if iso is not None:
        timestamp = clock.rfc3339(iso.group(1), zone)
        parser, end, assumed = "rfc3339", iso.end(), False
    else:
        found = _BSD.match(text, pos)
        if found is None:
            return None
        seq, origin, sync, month, day, year, hms, fraction, zone_name = found.groups()
        assumed = zone_name not in _UTC_ABBREVIATIONS
        if not assumed:
            zone = clock.zone("UTC") or zone
        ordinal = ctx.received_at.toordinal()
        timestamp = clock.bsd(month, int(day), int(year) if year else None, hms, fraction, zone, ordinal)
        parser, end = "rfc3164", found.end()
        if seq is not None or origin is not None or sync or zone_name is not None:
            parser = "cisco"
            sequence = long(seq) if seq else None
    if timestamp is None:
        return None
    event = new(text, DATASET, parser, timestamp)
    if assumed:
        event["event"]["timezone"] = ctx.timezone
    if sequence is not None:
        event["soc"]["sequence"] = sequence
    return _header(event, text, end, origin, parser != "cisco", ctx)


def _header(
    event: dict[str, Any], text: str, pos: int, host: str | None, look_for_host: bool, ctx: ParseContext
) -> dict[str, Any]:
    """HOST and TAG after a BSD stamp; either may be missing."""
    tag_match = _TAG.match(text, pos)
    if tag_match is None and look_for_host:
        space = text.find(" ", pos)
        if space < 0:
            host, pos = (text[pos:] or None), len(text)
        else:
            host, pos = (text[pos:space] or None), space + 1
        tag_match = _TAG.match(text, pos)
    program = None
    pid = None
    syslog: dict[str, Any] = {}
    if host is not None:
        syslog["hostname"] = host
    if tag_match is not None:
        name, procid = tag_match.groups()
        pos = tag_match.end()
        if name.isdigit() and procid is None:
            event["soc"]["sequence"] = int(name[:18])
        elif name.startswith("%"):
            event["event"]["code"] = name[1:]
        else:
            program = name
            syslog["appname"] = name
            if procid:
                syslog["procid"] = procid
                pid = long(procid)
    if syslog:
        event["log"] = {"syslog": syslog}
    _host(event, host, ctx)
    message = text[pos:]
    event["message"] = message
    _process(event, program, pid, message)
    return event


def _host(event: dict[str, Any], name: str | None, ctx: ParseContext) -> None:
    name = name or ctx.hostname
    host: dict[str, Any] = {}
    if name:
        host["name"] = name
    if ctx.peer_ip:
        address = ip(ctx.peer_ip)
        if address:
            host["ip"] = address
    if host:
        event["host"] = host


def _process(event: dict[str, Any], program: str | None, pid: int | None, message: str) -> None:
    if program is not None:
        process: dict[str, Any] = {"name": program}
        if pid is not None:
            process["pid"] = pid
        event["process"] = process
    linux.enrich(event, program, message)


def _priority(event: dict[str, Any], pri: int) -> None:
    if pri > 191:
        tag(event, "_syslog_priority_invalid")
        return
    facility, severity = pri >> 3, pri & 7
    log = event.setdefault("log", {})
    syslog = log.setdefault("syslog", {})
    syslog["priority"] = pri
    syslog["facility"] = {"code": facility, "name": _FACILITIES[facility]}
    syslog["severity"] = {"code": severity, "name": _SEVERITIES[severity]}
    log["level"] = _SEVERITIES[severity]


__all__ = ["DATASET", "PARSE_FAILURE", "parse"]
