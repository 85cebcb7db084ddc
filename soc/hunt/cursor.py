"""Opaque, signed paging cursors: the point in time, where the last page ended, and which search it is.

A cursor names the search it continues (a digest of the caller and the request's query, times, agency
and sort), so it cannot be replayed with another query or by another user; it is signed with the
deployment's key (HMAC-SHA256), so an altered or forged cursor is refused before anything is asked
of OpenSearch. The caller's scope is applied again on every page whatever the cursor says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from soc.errors import Invalid

MAX_LENGTH = 4000


@dataclass(frozen=True)
class Position:
    pit: str
    after: list[Any]
    search: str  # digest of the search it belongs to
    start: str  # the search's event-time window, fixed by its first page
    end: str


def search_digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def encode(key: bytes, pos: Position) -> str:
    payload = json.dumps({"p": pos.pit, "a": pos.after, "s": pos.search, "w": [pos.start, pos.end]},
                         separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def decode(key: bytes, cursor: str, search: str) -> Position:
    if len(cursor) > MAX_LENGTH:
        raise Invalid("cursor: too long to be a cursor of this service")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise Invalid("cursor: not a cursor returned by this service") from None
    mac, payload = raw[:16], raw[16:]
    if len(mac) < 16 or not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:16]):
        raise Invalid("cursor: altered, or not a cursor returned by this service")
    data = json.loads(payload)
    if data["s"] != search:
        raise Invalid("cursor: it belongs to another search (query, times, agency, sort or user differ)")
    return Position(str(data["p"]), list(data["a"]), str(data["s"]), str(data["w"][0]), str(data["w"][1]))
