"""cron, systemd-logind and the kernel: jobs run, login sessions, firewall and device events."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.event import classify, peer, user

_CRON_CMD = re.compile(r"\(([^)\s]+)\) CMD \((.*)\)$", re.DOTALL)
_CRONTAB = re.compile(r"\(([^)\s]+)\) (REPLACE|DELETE|BEGIN EDIT|END EDIT|RELOAD|LIST) \(")
_LOGIND_NEW = re.compile(r"New session (\S+) of user ([^\s.]+(?:\.[^\s.]+)*)\.?$")
_LOGIND_REMOVED = re.compile(r"Removed session (\S+?)\.?$")
_LOGIND_LOGOUT = re.compile(r"Session (\S+) logged out\.")
_UPTIME = re.compile(r"\[\s*\d+\.\d+\] ")
_OOM = re.compile(r"Out of memory: Kill(?:ed)? process \d+")
_SEGFAULT = re.compile(r"\S+\[\d+\]: segfault at ")
_PROMISCUOUS = re.compile(r"device \S+ entered promiscuous mode")
_USB = re.compile(r"usb \S+: New USB device found")


def cron(event: dict[str, Any], message: str) -> bool:
    command = _CRON_CMD.match(message)
    if command is not None:
        classify(event, "cron_command", ("process",), ("start",), "success")
        user(event, command.group(1))
        event.setdefault("process", {})["command_line"] = command.group(2)
        return True
    crontab = _CRONTAB.match(message)
    if crontab is not None:
        word = crontab.group(2).lower().replace(" ", "_")
        kind = ("info",) if word in ("reload", "list") else ("change",)
        classify(event, f"crontab_{word}", ("configuration",), kind, "success")
        user(event, crontab.group(1))
        return True
    return pam.enrich(event, message)


def logind(event: dict[str, Any], message: str) -> bool:
    new = _LOGIND_NEW.match(message)
    if new is not None:
        classify(event, "session_created", ("session",), ("start",), "success")
        user(event, new.group(2))
        return True
    if _LOGIND_REMOVED.match(message):
        classify(event, "session_removed", ("session",), ("end",), "success")
        return True
    if _LOGIND_LOGOUT.match(message):
        classify(event, "session_logged_out", ("session",), ("end",), "success")
        return True
    return False


def kernel(event: dict[str, Any], message: str) -> bool:
    uptime = _UPTIME.match(message)
    text = message[uptime.end() :] if uptime is not None else message
    if " SRC=" in text and " DST=" in text:
        _firewall(event, text)
        return True
    if _OOM.match(text):
        classify(event, "oom_kill", ("process",), ("end",))
        return True
    if _SEGFAULT.match(text):
        classify(event, "process_segfault", ("process",), ("end",), "failure")
        return True
    if _PROMISCUOUS.match(text):
        classify(event, "promiscuous_mode_entered", ("network",), ("change",))
        return True
    if _USB.match(text):
        classify(event, "usb_device_connected", ("driver",), ("info",))
        return True
    return False


def _firewall(event: dict[str, Any], text: str) -> None:
    """netfilter LOG lines: ``[prefix] IN=eth0 OUT= ... SRC=a DST=b ... PROTO=TCP SPT=1 DPT=22 ...``."""
    start = text.find("IN=")
    values: dict[str, str] = {}
    for item in text[max(start, 0) :].split(" "):
        key, sep, value = item.partition("=")
        if sep:
            values[key] = value
    classify(event, "firewall_packet", ("network",), ("connection",))
    prefix = text[:start].strip() if start > 0 else ""
    if prefix:
        event["event"]["reason"] = prefix
    peer(event, values.get("SRC"), values.get("SPT"))
    peer(event, values.get("DST"), values.get("DPT"), group="destination")
    protocol = values.get("PROTO")
    if protocol:
        event["network"] = {"transport": protocol.lower()}
