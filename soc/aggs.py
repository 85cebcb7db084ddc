"""Query-DSL pieces the stores' weekly aggregations share (alerts, incidents, audit; the report reads them)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from soc import timefmt

ORG = "organization.id"
Weeks = dict[str, tuple[datetime, datetime]]  # week key -> [start, end) in UTC

iso = partial(timefmt.iso, exact=True)  # bounds written as the records' own times are


def window(name: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {name: {"gte": iso(start), "lt": iso(end)}}}


def scope(agency: str | None) -> list[dict[str, Any]]:
    return [{"term": {ORG: agency}}] if agency else []


def buckets(agg: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(b.get("key_as_string", b["key"])), int(b["doc_count"])) for b in agg["buckets"]]
