"""``soc-indicators``: the only module that reads or writes it.

A document per (feed, indicator), id ``Indicator.ident``. Its atoms are indexed for lookup by kind:
``address`` (one address: a window's thousands of addresses are one set query), ``ip`` (a network,
as ip_range, so an event's address finds the networks containing it), ``domain``, ``url``
(lower case, as events' ``url.original`` is normalized) and ``hash``. A re-import updates the
document and keeps ``first_import`` and the retro-hunt state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.search import Names

LOOKUP_FIELDS = ("address", "ip", "domain", "url", "hash")
CHUNK = 5000  # documents per bulk request; values per lookup clause
IP_CHUNK = 500  # addresses per lookup query (each costs clauses on the ip_range field; 1024 at most)
MSEARCH_BATCH = 20


def live(now: datetime) -> list[dict[str, Any]]:
    """Clauses that keep indicators valid at ``now`` (an absent bound is open)."""
    at = now.isoformat()
    return [{"bool": {"must_not": [{"range": {"valid_until": {"lte": at}}}]}},
            {"bool": {"must_not": [{"range": {"valid_from": {"gt": at}}}]}}]


def upsert(client: OpenSearch, names: Names,
           items: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> tuple[int, int]:
    """(id, fields to update, fields a new document also gets) per indicator. Returns (created, updated)."""
    created = updated = 0
    for start in range(0, len(items), CHUNK):
        body: list[dict[str, Any]] = []
        for ident, doc, first in items[start:start + CHUNK]:
            body += [{"update": {"_index": names.indicators, "_id": ident, "retry_on_conflict": 3}},
                     {"doc": doc, "upsert": {**doc, **first}}]
        resp = client.bulk(body=body, refresh=start + CHUNK >= len(items))
        failures = [str(next(iter(i.values())).get("error")) for i in resp["items"]
                    if next(iter(i.values())).get("status", 500) >= 300]
        if failures:
            raise RuntimeError(f"{len(failures)} indicators could not be written: {failures[0][:500]}")
        for item in resp["items"]:
            result = next(iter(item.values())).get("result")
            created += result == "created"
            updated += result != "created"
    return created, updated


def listing(client: OpenSearch, names: Names, feed: str | None = None, size: int = 100,
            offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    query: dict[str, Any] = {"term": {"feed": feed}} if feed else {"match_all": {}}
    resp = client.search(index=names.indicators, body={
        "query": query, "size": size, "from": offset, "track_total_hits": True,
        "sort": [{"last_import": "desc"}, {"name": "asc"}]}, ignore_unavailable=True)
    return [{"id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]], int(resp["hits"]["total"]["value"])


def remove(client: OpenSearch, names: Names, ids: list[str] | None = None, feed: str | None = None) -> int:
    """Delete indicators by id, or every indicator of a feed. Returns how many went."""
    if ids:
        query: dict[str, Any] = {"ids": {"values": ids}}
    elif feed:
        query = {"term": {"feed": feed}}
    else:
        return 0
    resp = client.delete_by_query(index=names.indicators, body={"query": query}, refresh=True, conflicts="proceed")
    return int(resp.get("deleted", 0))


def count(client: OpenSearch, names: Names) -> int:
    return int(client.count(index=names.indicators, ignore_unavailable=True)["count"])


def lookup(client: OpenSearch, names: Names, values: dict[str, list[str]], now: datetime,
           size: int = 10000) -> list[dict[str, Any]]:
    """Live indicators one of whose atoms is among ``values`` (lookup field -> values seen).

    Exact addresses are one set query per ``CHUNK``; against networks, a terms query on the ``ip_range``
    field becomes one clause per address (1024 at most per query), so addresses are asked in chunks of
    ``IP_CHUNK``; all share ``_msearch`` requests.
    """
    searches: list[dict[str, Any]] = []
    values = {**values, "address": values.get("ip") or []}  # a window's addresses: exact ones and networks
    for fld in LOOKUP_FIELDS:
        vals = values.get(fld) or []
        step = IP_CHUNK if fld == "ip" else CHUNK
        searches += [{"size": size, "query": {"bool": {"filter": [{"terms": {fld: vals[i:i + step]}}, *live(now)]}}}
                     for i in range(0, len(vals), step)]
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(searches), MSEARCH_BATCH):
        body: list[dict[str, Any]] = []
        for search in searches[i:i + MSEARCH_BATCH]:
            body += [{"index": names.indicators, "ignore_unavailable": True}, search]
        for resp in client.msearch(body=body)["responses"]:
            if "error" in resp:
                raise RuntimeError(f"indicator lookup failed: {str(resp['error'])[:300]}")
            for hit in resp["hits"]["hits"]:
                found[hit["_id"]] = {"id": hit["_id"], **hit["_source"]}
    return list(found.values())


def pending_retro(client: OpenSearch, names: Names, now: datetime, size: int = 1000) -> list[dict[str, Any]]:
    """Live indicators not yet searched for in the past."""
    body = {"size": size, "query": {"bool": {"filter": [{"term": {"retro.done": False}}, *live(now)]}}}
    resp = client.search(index=names.indicators, body=body, ignore_unavailable=True)
    return [{"id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]]


def mark_retro(client: OpenSearch, names: Names, done: dict[str, int], at: datetime) -> None:
    """Record that the retro-hunt of these indicators ran (indicator id -> alerts it found)."""
    body: list[dict[str, Any]] = []
    for ident, alerts in done.items():
        body += [{"update": {"_index": names.indicators, "_id": ident, "retry_on_conflict": 3}},
                 {"doc": {"retro": {"done": True, "at": at.isoformat(), "alerts": alerts}}}]
    if body:
        client.bulk(body=body, refresh=True)
