"""Every OpenSearch request the report makes: aggregations only, never every event.

Each function takes a scope (``agency`` or None for province-wide) and the UTC bounds of the
current week and the one before, and returns plain numbers and bucket lists. Log content in the
answers (addresses, paths, host and account names) is returned as data, never interpreted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc import aggs
from soc.search import Names

SOURCE_PAGE = 100  # sources per composite page: 100 x 168 hourly buckets stays far below max_buckets


def _streams(names: Names) -> str:
    return f"{names.syslog},{names.web}"


def events_by_agency_source(client: OpenSearch, names: Names, agency: str | None,
                            weeks: aggs.Weeks) -> dict[str, dict[str, dict[str, int]]]:
    """week key -> agency -> source id (or "-" when none) -> event count, from one search."""
    spans = list(weeks.values())
    body = {"size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [*aggs.scope(agency), aggs.window("@timestamp", min(s for s, _ in spans),
                                                                  max(e for _, e in spans))]}},
            "aggs": {"weeks": {"date_range": {"field": "@timestamp", "keyed": True, "ranges": [
                {"key": key, "from": aggs.iso(s), "to": aggs.iso(e)} for key, (s, e) in weeks.items()]},
                "aggs": {"agencies": {"terms": {"field": aggs.ORG, "size": 1000, "missing": "-"},
                                      "aggs": {"sources": {"terms": {"field": "log.source.id", "size": 1000,
                                                                     "missing": "-"}}}}}}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for key, bucket in resp["aggregations"]["weeks"]["buckets"].items():
        out[key] = {str(a["key"]): dict(aggs.buckets(a["sources"])) for a in bucket["agencies"]["buckets"]}
    return out


def hourly_by_source(client: OpenSearch, names: Names, agency: str | None, start: datetime,
                     end: datetime) -> Iterator[tuple[str, str, list[int]]]:
    """(agency, source id, event count of each hour of [start, end)) for every source that sent in the week.

    A composite aggregation pages through the sources, each with a date histogram whose bounds
    cover the whole week, so hours without events come back as zeros.
    """
    after: dict[str, Any] | None = None
    hours = int((end - start).total_seconds() // 3600)
    while True:
        composite: dict[str, Any] = {"size": SOURCE_PAGE, "sources": [
            {"agency": {"terms": {"field": aggs.ORG}}}, {"source": {"terms": {"field": "log.source.id"}}}]}
        if after:
            composite["after"] = after
        body = {"size": 0, "track_total_hits": False,
                "query": {"bool": {"filter": [*aggs.scope(agency), aggs.window("@timestamp", start, end),
                                              {"exists": {"field": "log.source.id"}}]}},
                "aggs": {"sources": {"composite": composite, "aggs": {"hours": {"date_histogram": {
                    "field": "@timestamp", "fixed_interval": "1h", "min_doc_count": 0, "offset": 0,
                    "extended_bounds": {"min": aggs.iso(start), "max": aggs.iso(end)},
                    "hard_bounds": {"min": aggs.iso(start), "max": aggs.iso(end)}}}}}}}
        resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
        agg = resp["aggregations"]["sources"]
        for b in agg["buckets"]:
            counts = [int(h["doc_count"]) for h in b["hours"]["buckets"]][:hours]
            yield str(b["key"]["agency"]), str(b["key"]["source"]), counts + [0] * (hours - len(counts))
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return


def targets(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
            attackers: list[str], top_n: int) -> dict[str, list[tuple[str, int]]]:
    """The URLs, hosts and accounts most often named in the week's events from the attacking addresses."""
    empty: dict[str, list[tuple[str, int]]] = {"urls": [], "hosts": [], "accounts": []}
    if not attackers:
        return empty
    body = {"size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [*aggs.scope(agency), aggs.window("@timestamp", start, end),
                                          {"terms": {"source.ip": attackers}}]}},
            "aggs": {"urls": {"terms": {"field": "url.path", "size": top_n}},
                     "hosts": {"terms": {"field": "host.name", "size": top_n}},
                     "accounts": {"terms": {"field": "user.name", "size": top_n}}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
    return {k: aggs.buckets(resp["aggregations"][k]) for k in empty}


# Stored reports (``soc-reports``, _id = the report id; see soc.reports.schemas for the document).

def save_report(client: OpenSearch, names: Names, doc: dict[str, Any], refresh: bool = True) -> None:
    client.index(index=names.reports, id=doc["id"], body=doc, refresh=refresh)


# Replaces a report only when it too was produced on demand (or does not exist yet).
_ON_DEMAND = ("if (ctx._source.trigger != null && ctx._source.trigger != 'api') { ctx.op = 'none'; }"
              " else { ctx._source.clear(); ctx._source.putAll(params.doc); }")


def save_on_demand(client: OpenSearch, names: Names, doc: dict[str, Any]) -> bool:
    """Store an on-demand report unless a scheduled or operator's report holds its id; one atomic
    step (a scheduled run between a check and a write cannot be overwritten). False when kept."""
    resp = client.update(index=names.reports, id=doc["id"], refresh=True, retry_on_conflict=5,
                         body={"scripted_upsert": True, "upsert": {},
                               "script": {"lang": "painless", "source": _ON_DEMAND, "params": {"doc": doc}}})
    return bool(resp.get("result") != "noop")


def get_report(client: OpenSearch, names: Names, report_id: str) -> dict[str, Any] | None:
    resp = client.get(index=names.reports, id=report_id, ignore=[404])
    return resp.get("_source") if resp.get("found") else None


def list_reports(client: OpenSearch, names: Names, filters: list[dict[str, Any]], size: int,
                 offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Newest first, without the stored content (it can be large)."""
    body = {"size": size, "from": offset, "track_total_hits": True, "_source": {"excludes": ["content"]},
            "query": {"bool": {"filter": filters}}, "sort": [{"week": "desc"}, {"created": "desc"}, {"id": "asc"}]}
    resp = client.search(index=names.reports, body=body)
    return int(resp["hits"]["total"]["value"]), [hit["_source"] for hit in resp["hits"]["hits"]]
