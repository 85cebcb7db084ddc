"""User-Agent strings to ECS ``user_agent.*`` fields, with the maintained ua-parser rules.

Parsing one string costs tens of microseconds, and a web log repeats the same few agents, so
results are cached (bounded). Strings longer than :data:`MAX_LENGTH` are not parsed (scanners
send absurd ones); ``user_agent.original`` always keeps the text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import ua_parser

MAX_LENGTH = 1024


def fields(original: str) -> dict[str, Any]:
    """The ``user_agent`` object; a fresh dict each call (callers may change it)."""
    if len(original) > MAX_LENGTH:
        return {"original": original}
    parsed = _parse(original)
    out: dict[str, Any] = {"original": original}
    name, version, os_name, os_version, device = parsed
    if name:
        out["name"] = name
    if version:
        out["version"] = version
    if os_name:
        os: dict[str, str] = {"name": os_name}
        if os_version:
            os["version"] = os_version
        out["os"] = os
    if device:
        out["device"] = {"name": device}
    return out


def _join(*parts: str | None) -> str | None:
    present = [part for part in parts if part]
    return ".".join(present) or None


@lru_cache(maxsize=4096)
def _parse(original: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    try:
        result = ua_parser.parse(original)
    except Exception:  # a bug in the rules must not cost the event
        return None, None, None, None, None
    agent, system, device = result.user_agent, result.os, result.device
    name = version = os_name = os_version = device_name = None
    if agent is not None and agent.family != "Other":
        name = agent.family
        version = _join(agent.major, agent.minor, agent.patch)
    if system is not None and system.family != "Other":
        os_name = system.family
        os_version = _join(system.major, system.minor, system.patch)
    if device is not None and device.family != "Other":
        device_name = device.family
    return name, version, os_name, os_version, device_name
