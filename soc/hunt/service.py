"""Log search: the query language, the caller's agency scope, paging in a point in time, facets, the
histogram, and bounded exports.

Scope is applied exactly as for incidents (``Principal.scope_filter`` on ``organization.id``, which the
ingest pipeline stamps from the data stream an event was written to): another agency's events are
simply not there (total 0), and asking for another agency gives no error either.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc import ecs
from soc.auth import Principal
from soc.errors import BadQuery, Invalid
from soc.hunt import cursor, query, store
from soc.hunt.schemas import ExportIn, SearchIn, Window
from soc.search import Names
from soc.timefmt import iso as iso

DEFAULT_SPAN = timedelta(hours=24)
TIMEOUT = "10s"  # OpenSearch stops collecting after this long and says so (timed_out)
FACET_SIZE = 10
HISTOGRAM_BUCKETS = 60
EXPORT_PAGE = 1000
SORTABLE = ("keyword", "ci_keyword", "long", "date", "ip", "boolean")
# search_after needs a total order: a log event is written once into a one-shard backing index, so
# (backing index, sequence number) names it (as the detection runner pages).
TIE_BREAK: list[dict[str, str]] = [{"_index": "asc"}, {"_seq_no": "asc"}]
INTERVALS = [(s, f"{s}s") for s in (1, 5, 10, 30)] + [(m * 60, f"{m}m") for m in (1, 5, 10, 30)] + [
    (h * 3600, f"{h}h") for h in (1, 3, 6, 12)] + [(86400, "1d"), (7 * 86400, "7d"), (30 * 86400, "30d")]


def window(w: Window, now: datetime) -> tuple[datetime, datetime]:
    end = w.end or now
    start = w.start or end - DEFAULT_SPAN
    if start >= end:
        raise Invalid("from: must be before 'to'")
    return start, end


def scope(who: Principal, agency: str | None, start: str, end: str) -> list[dict[str, Any]]:
    """The caller's agencies, the agency asked for, and the event-time window."""
    filters = [*who.scope_filter(), {"range": {"@timestamp": {"gte": start, "lt": end}}}]
    if agency:
        filters.append({"term": {"organization.id": agency}})
    return filters


def sort_spec(sort: str) -> list[dict[str, Any]]:
    name = sort.removeprefix("-")
    kind = ecs.FIELDS.get(name)
    if kind is None or kind not in SORTABLE:
        raise Invalid(f"sort: {name!r} is not a field results can be sorted by (a keyword, number, time or "
                      "address field of soc/ecs.py; '-' first for descending)")
    return [{name: {"order": "desc" if sort.startswith("-") else "asc", "missing": "_last"}}, *TIE_BREAK]


def facet_field(name: str) -> str:
    kind = ecs.FIELDS.get(name)
    if kind is None:
        raise Invalid(f"facets: unknown field {name!r}")
    if kind == "text+keyword":
        return f"{name}.keyword"
    if kind not in SORTABLE:
        raise Invalid(f"facets: {name!r} holds text; its values cannot be counted")
    return name


def interval(start: datetime, end: datetime) -> tuple[int, str]:
    span = (end - start).total_seconds()
    return next(((s, text) for s, text in INTERVALS if span / s <= HISTOGRAM_BUCKETS), INTERVALS[-1])


def aggregations(req: SearchIn, start: datetime, end: datetime) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for i, name in enumerate(dict.fromkeys(req.facets)):
        aggs[f"f{i}"] = {"terms": {"field": facet_field(name), "size": FACET_SIZE}}
    if req.histogram:
        _, text = interval(start, end)
        aggs["histogram"] = {"date_histogram": {
            "field": "@timestamp", "fixed_interval": text, "min_doc_count": 0,
            "extended_bounds": {"min": int(start.timestamp() * 1000), "max": int(end.timestamp() * 1000) - 1}}}
    return aggs


def event(hit: dict[str, Any]) -> dict[str, Any]:
    return {**hit.get("_source", {}), "_id": hit["_id"], "_index": hit["_index"]}


def _read_aggs(req: SearchIn, resp: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    aggs = resp.get("aggregations", {})
    histogram = [{"t": b.get("key_as_string") or iso(datetime.fromtimestamp(b["key"] / 1000, UTC)),
                  "count": int(b["doc_count"])} for b in aggs.get("histogram", {}).get("buckets", [])]
    facets = {name: [{"value": b.get("key_as_string", b["key"]), "count": int(b["doc_count"])}
                     for b in aggs.get(f"f{i}", {}).get("buckets", [])]
              for i, name in enumerate(dict.fromkeys(req.facets))}
    return histogram, facets


class SearchService:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client, self.names = client, names

    def _key(self) -> bytes:
        return store.cursor_key(self.client, self.names)

    def search(self, who: Principal, req: SearchIn, now: datetime) -> dict[str, Any]:
        who.require_reader()
        dsl = query.parse(req.query)
        sort = sort_spec(req.sort)
        digest = cursor.search_digest(who.name, req.query, req.agency, req.sort, req.size,
                                      req.start and iso(req.start), req.end and iso(req.end))
        if req.cursor:
            pos = cursor.decode(self._key(), req.cursor, digest)
            pit, after, start_s, end_s = pos.pit, pos.after, pos.start, pos.end
            aggs: dict[str, Any] = {}
        else:
            start, end = window(req, now)
            start_s, end_s = iso(start), iso(end)
            aggs = aggregations(req, start, end)
            after = []
            found = store.open_pit(self.client, self.names)
            if found is None:
                return {"total": 0, "items": [], "next": None, "histogram": [], "facets": {}, "timed_out": False}
            pit = found
        body: dict[str, Any] = {"size": req.size, "track_total_hits": True, "timeout": TIMEOUT, "sort": sort,
                                "query": {"bool": {"filter": [*scope(who, req.agency, start_s, end_s), dsl]}}}
        if aggs:
            body["aggs"] = aggs
        if after:
            body["search_after"] = after
        resp = store.search_pit(self.client, pit, body)
        hits = resp["hits"]["hits"]
        nxt = None
        if len(hits) == req.size:
            nxt = cursor.encode(self._key(), cursor.Position(resp.get("pit_id", pit), hits[-1]["sort"], digest,
                                                             start_s, end_s))
        else:
            store.close_pit(self.client, pit)
        histogram, facets = _read_aggs(req, resp)
        return {"total": int(resp["hits"]["total"]["value"]), "items": [event(h) for h in hits], "next": nxt,
                "histogram": histogram, "facets": facets, "timed_out": bool(resp.get("timed_out"))}

    def export(self, who: Principal, req: ExportIn, now: datetime) -> Iterator[dict[str, Any]]:
        """Up to ``req.limit`` events, in pages inside one point in time (checked before the first row)."""
        who.require_reader()
        dsl = query.parse(req.query)
        sort = sort_spec(req.sort)
        start, end = window(req, now)
        for name in req.fields:
            if name not in ecs.FIELDS:
                raise BadQuery(f"fields: unknown field {name!r}")
        filters = [*scope(who, req.agency, iso(start), iso(end)), dsl]
        pit = store.open_pit(self.client, self.names)
        return self._pages(pit, filters, sort, req.limit) if pit else iter(())

    def _pages(self, pit: str, filters: list[dict[str, Any]], sort: list[dict[str, Any]],
               limit: int) -> Iterator[dict[str, Any]]:
        sent = 0
        after: list[Any] = []
        try:
            while sent < limit:
                body: dict[str, Any] = {"size": min(EXPORT_PAGE, limit - sent), "track_total_hits": False,
                                        "timeout": TIMEOUT, "sort": sort, "query": {"bool": {"filter": filters}}}
                if after:
                    body["search_after"] = after
                resp = store.search_pit(self.client, pit, body)
                pit = resp.get("pit_id", pit)
                hits = resp["hits"]["hits"]
                for hit in hits:
                    yield event(hit)
                sent += len(hits)
                if len(hits) < body["size"]:
                    break
                after = hits[-1]["sort"]
        finally:
            store.close_pit(self.client, pit)
