"""Matching events against live indicators, over a detection window or once over recent history.

A window is matched from the events' side, so the cost follows the window and not the number of
indicators: one request collects the distinct values of the matched fields in the window
(composite aggregations, paged), one lookup per kind finds the live indicators holding any of them
(addresses against ``ip_range``, so networks match the addresses they contain), then one search per
indicator found (shared ``_msearch`` requests) fetches its events in the window, all of its atoms
required. A newly imported indicator is searched for directly, over the last ``retro_days``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.alerts.documents import AlertDoc
from soc.intel import alerts
from soc.intel import store as intel_store
from soc.search import Names

# Event field -> the indicator lookup field its values are looked up in.
WINDOW_FIELDS = {"source.ip": "ip", "destination.ip": "ip", "url.domain": "domain", "url.original": "url",
                 "file.hash.md5": "hash", "file.hash.sha1": "hash", "file.hash.sha256": "hash"}
PAGE = 5000
MSEARCH_BATCH = 50


def window_values(client: OpenSearch, index: str, time_range: dict[str, Any]) -> dict[str, list[str]]:
    """Lookup field -> distinct values the window's events hold in the matched fields."""
    out: dict[str, set[str]] = defaultdict(set)
    after: dict[str, Any] = {f: None for f in WINDOW_FIELDS}
    while after:
        aggs = {f"f{i}": {"composite": {"size": PAGE, "sources": [{"v": {"terms": {"field": f}}}],
                                         **({"after": after[f]} if after[f] else {})}}
                for i, f in enumerate(WINDOW_FIELDS) if f in after}
        resp = client.search(index=index, body={"size": 0, "query": {"bool": {"filter": [time_range]}},
                                                "aggs": aggs}, ignore_unavailable=True)
        got = resp.get("aggregations") or {}
        nxt: dict[str, Any] = {}
        for i, f in enumerate(WINDOW_FIELDS):
            agg = got.get(f"f{i}")
            if f not in after or not agg:
                continue
            out[WINDOW_FIELDS[f]].update(str(b["key"]["v"]) for b in agg["buckets"])
            if len(agg["buckets"]) == PAGE and agg.get("after_key"):
                nxt[f] = agg["after_key"]
        after = nxt
    return {k: sorted(v) for k, v in out.items()}


def hunt(client: OpenSearch, index: str, indicators: list[dict[str, Any]], time_range: dict[str, Any],
         created: str, window: dict[str, str], max_hits: int, how: str) -> tuple[list[tuple[str, AlertDoc]],
                                                                                 dict[str, int]]:
    """Alerts for the events in ``time_range`` matching each indicator, and the alerts per indicator."""
    found: list[tuple[str, AlertDoc]] = []
    per: dict[str, int] = {}
    for start in range(0, len(indicators), MSEARCH_BATCH):
        chunk = indicators[start:start + MSEARCH_BATCH]
        body: list[dict[str, Any]] = []
        for ind in chunk:
            body += [{"index": index, "ignore_unavailable": True},
                     {"size": max_hits, "_source": alerts.SOURCE_FIELDS, "sort": [{"@timestamp": "asc"}],
                      "query": {"bool": {"filter": [time_range, *alerts.indicator_query(ind)]}}}]
        responses = client.msearch(body=body)["responses"]
        for ind, resp in zip(chunk, responses, strict=True):
            if "error" in resp:
                raise RuntimeError(f"indicator {ind['id']} ({ind['name'][:100]}): search failed: "
                                   f"{str(resp['error'])[:300]}")
            hits = resp["hits"]["hits"]
            per[ind["id"]] = len(hits)
            found += [alerts.build(ind, hit, created, window, how) for hit in hits]
    return found, per


def match_window(client: OpenSearch, names: Names, index: str, start: datetime, end: datetime, now: datetime,
                 created: str, max_hits: int) -> list[tuple[str, AlertDoc]]:
    """Alerts for the events ingested in (start, end] that hold a live indicator."""
    ingested = {"range": {"event.ingested": {"gt": start.isoformat(), "lte": end.isoformat()}}}
    values = window_values(client, index, ingested)
    if not any(values.values()):
        return []
    indicators = intel_store.lookup(client, names, values, now)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    return hunt(client, index, indicators, ingested, created, window, max_hits, "window")[0]


def retro_hunt(client: OpenSearch, names: Names, index: str, since: datetime, now: datetime, created: str,
               max_hits: int) -> tuple[list[tuple[str, AlertDoc]], dict[str, int]]:
    """Alerts for events since ``since`` (event time) matching the indicators not yet searched for."""
    pending = intel_store.pending_retro(client, names, now)
    if not pending:
        return [], {}
    when = {"range": {"@timestamp": {"gte": since.isoformat(), "lte": now.isoformat()}}}
    return hunt(client, index, pending, when, created, {"start": since.isoformat(), "end": now.isoformat()},
                max_hits, "retro-hunt")
