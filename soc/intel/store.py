"""``soc-indicators`` and ``soc-intel-feeds``: the only module that reads or writes them.

A document per (feed, indicator), id ``Indicator.ident``. Its atoms are indexed for lookup by kind:
``address`` (one address: a window's thousands of addresses are one set query), ``ip`` (a network,
as ip_range, so an event's address finds the networks containing it), ``domain``, ``url``
(lower case, as events' ``url.original`` is normalized) and ``hash``. A re-import updates the
document and keeps ``first_import`` and the retro-hunt state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

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


# Feed subscriptions (``soc-intel-feeds``): one document per feed, id its name.

def feed_create(client: OpenSearch, names: Names, name: str, doc: dict[str, Any]) -> bool:
    """Stores a new subscription; False when one of that name exists."""
    try:
        client.create(index=names.intel_feeds, id=name, body=doc, refresh=True)
    except ConflictError:
        return False
    return True


def feed_get(client: OpenSearch, names: Names, name: str) -> tuple[dict[str, Any], tuple[int, int]] | None:
    """The subscription and its version (seq_no, primary_term), or None."""
    try:
        got = client.get(index=names.intel_feeds, id=name)
    except NotFoundError:
        return None
    return got["_source"], (int(got["_seq_no"]), int(got["_primary_term"]))


def feed_list(client: OpenSearch, names: Names) -> list[tuple[dict[str, Any], tuple[int, int]]]:
    resp = client.search(index=names.intel_feeds, body={"size": 1000, "seq_no_primary_term": True,
                                                        "sort": [{"name": "asc"}]}, ignore_unavailable=True)
    return [(h["_source"], (int(h["_seq_no"]), int(h["_primary_term"]))) for h in resp["hits"]["hits"]]


def feed_update(client: OpenSearch, names: Names, name: str, fields: dict[str, Any],
                version: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Merges ``fields`` into the subscription, only if it is still at ``version`` when one is given.
    Returns the new version; None when another writer changed it first or it is gone."""
    extra = {"if_seq_no": version[0], "if_primary_term": version[1]} if version else {}
    try:
        resp = client.update(index=names.intel_feeds, id=name, body={"doc": fields}, refresh=True, **extra)
    except (ConflictError, NotFoundError):
        return None
    return int(resp["_seq_no"]), int(resp["_primary_term"])


def feed_delete(client: OpenSearch, names: Names, name: str) -> bool:
    try:
        client.delete(index=names.intel_feeds, id=name, refresh=True)
    except NotFoundError:
        return False
    return True


def withdraw(client: OpenSearch, names: Names, feed: str, imported: datetime) -> int:
    """Ends, at ``imported``, the validity of the feed's live indicators that its import at ``imported``
    no longer carried (their ``last_import`` is older). Returns how many."""
    at = imported.isoformat()
    body = {"query": {"bool": {"filter": [{"term": {"feed": feed}}, {"range": {"last_import": {"lt": at}}},
                                          *live(imported)]}},
            "script": {"lang": "painless", "source": "ctx._source.valid_until = params.at", "params": {"at": at}}}
    resp = client.update_by_query(index=names.indicators, body=body, refresh=True, conflicts="proceed")
    return int(resp.get("updated", 0))
