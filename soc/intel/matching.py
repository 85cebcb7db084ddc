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

from soc import ecs
from soc.alerts.documents import AlertDoc
from soc.intel import alerts
from soc.intel import store as intel_store
from soc.intel.indicators import URL_SCHEMES
from soc.search import Names

# Event field -> the indicator lookup field its values are looked up in.
WINDOW_FIELDS = {"source.ip": "ip", "destination.ip": "ip", "url.domain": "domain", "url.original": "url",
                 "file.hash.md5": "hash", "file.hash.sha1": "hash", "file.hash.sha256": "hash"}
PAGE = 5000
MSEARCH_BATCH = 50
GROUP = 200  # indicators searched for together in a window (their first atoms' values share one query)
# The retro-hunt searches 30 days of every agency's shards: larger groups mean fewer such searches (the
# benchmark measured 909 -> 469 ms of searching per 1,000 pending indicators, groups of 200 -> 1,000).
RETRO_GROUP = 1000
SPLIT = 5  # a group whose events do not fit one answer is searched again in groups this many times smaller
GROUP_SIZE = 10000  # events one shared search may return


def _values_agg(fld: str, after: dict[str, Any] | None) -> dict[str, Any]:
    composite = {"composite": {"size": PAGE, "sources": [{"v": {"terms": {"field": fld}}}],
                               **({"after": after} if after else {})}}
    if fld != "url.original":
        return composite
    # an access log's url.original is mostly a path; only a full URL (a proxy's) can be an indicator
    return {"filter": {"bool": {"should": [{"prefix": {fld: f"{s}://"}} for s in URL_SCHEMES]}},
            "aggs": {"v": composite}}


def window_values(client: OpenSearch, index: str, time_range: dict[str, Any]) -> dict[str, list[str]]:
    """Lookup field -> distinct values the window's events hold in the matched fields."""
    out: dict[str, set[str]] = defaultdict(set)
    after: dict[str, Any] = {f: None for f in WINDOW_FIELDS}
    while after:
        aggs = {f"f{i}": _values_agg(f, after[f]) for i, f in enumerate(WINDOW_FIELDS) if f in after}
        resp = client.search(index=index, body={"size": 0, "query": {"bool": {"filter": [time_range]}},
                                                "aggs": aggs}, ignore_unavailable=True)
        got = resp.get("aggregations") or {}
        nxt: dict[str, Any] = {}
        for i, f in enumerate(WINDOW_FIELDS):
            agg = got.get(f"f{i}")
            agg = agg.get("v", agg) if agg else agg
            if f not in after or not agg:
                continue
            out[WINDOW_FIELDS[f]].update(str(b["key"]["v"]) for b in agg["buckets"])
            if len(agg["buckets"]) == PAGE and agg.get("after_key"):
                nxt[f] = agg["after_key"]
        after = nxt
    return {k: sorted(v) for k, v in out.items()}


def _shared_query(chunk: list[dict[str, Any]]) -> dict[str, Any]:
    """Events holding the first atom of any indicator of ``chunk`` (the values are terms, never syntax)."""
    by_field: dict[str, set[str]] = defaultdict(set)
    for ind in chunk:
        atom = ind["atoms"][0]
        for f in alerts.fields_of(atom):
            by_field[f].add(atom["value"])
    return {"bool": {"should": [{"terms": {f: sorted(v)}} for f, v in sorted(by_field.items())],
                     "minimum_should_match": 1}}


def _search(index: str, query: dict[str, Any], time_range: dict[str, Any], size: int) -> list[dict[str, Any]]:
    return [{"index": index, "ignore_unavailable": True},
            {"size": size, "track_total_hits": True, "_source": alerts.SOURCE_FIELDS, "sort": [{"@timestamp": "asc"}],
             "query": {"bool": {"filter": [time_range, query]}}}]


def _answers(client: OpenSearch, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    responses: list[dict[str, Any]] = client.msearch(body=body)["responses"] if body else []
    for resp in responses:
        if "error" in resp:
            raise RuntimeError(f"indicator search failed: {str(resp['error'])[:300]}")
    return responses


def hunt(client: OpenSearch, index: str, indicators: list[dict[str, Any]], time_range: dict[str, Any],
         created: str, window: dict[str, str], max_hits: int, how: str,
         group: int | None = None) -> tuple[list[tuple[str, AlertDoc]], dict[str, int]]:
    """Alerts for the events in ``time_range`` matching each indicator, and the alerts per indicator.

    Indicators are searched for ``group`` (``GROUP``) at a time, one search each group (every shard of
    every agency's stream is asked once per group, not once per indicator); the events found are given
    to the indicators they hold (all of an indicator's atoms). A group whose events do not fit one
    answer is searched again in groups ``SPLIT`` times smaller, and below ``SPLIT`` indicator by
    indicator, each up to ``max_hits`` events.
    """
    group = group or GROUP
    chunks = [indicators[i:i + group] for i in range(0, len(indicators), group)]
    body = [line for chunk in chunks for line in _search(index, _shared_query(chunk), time_range, GROUP_SIZE)]
    found: list[tuple[str, AlertDoc]] = []
    per: dict[str, int] = {ind["id"]: 0 for ind in indicators}
    retry: list[dict[str, Any]] = []
    for chunk, resp in zip(chunks, _answers(client, body), strict=True):
        hits = resp["hits"]["hits"]
        if int(resp["hits"]["total"]["value"]) > len(hits):
            retry += chunk
            continue
        for hit in hits:
            flat = ecs.flatten(hit.get("_source", {}))
            for ind in chunk:
                if per[ind["id"]] < max_hits and all(alerts.matched(a, flat) for a in ind["atoms"]):
                    per[ind["id"]] += 1
                    found.append(alerts.build(ind, hit, created, window, how))
    if retry and group > SPLIT:
        more, more_per = hunt(client, index, retry, time_range, created, window, max_hits, how, group // SPLIT)
        return found + more, per | more_per
    for start in range(0, len(retry), MSEARCH_BATCH):
        part = retry[start:start + MSEARCH_BATCH]
        body = [line for ind in part for line in _search(
            index, {"bool": {"filter": alerts.indicator_query(ind)}}, time_range, max_hits)]
        for ind, resp in zip(part, _answers(client, body), strict=True):
            per[ind["id"]] = len(resp["hits"]["hits"])
            found += [alerts.build(ind, hit, created, window, how) for hit in resp["hits"]["hits"]]
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
                max_hits, "retro-hunt", RETRO_GROUP)
