"""Every OpenSearch request the report makes: aggregations only, never every event.

Each function takes a scope (``agency`` or None for province-wide) and the UTC bounds of the
current week and the one before, and returns plain numbers and bucket lists. Log content in the
answers (addresses, paths, host and account names) is returned as data, never interpreted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from opensearchpy import OpenSearch

from soc import timefmt
from soc.alerts.documents import LATE_NOTICE_S
from soc.search import Names

ORG = "organization.id"
SOURCE_PAGE = 100  # sources per composite page: 100 x 168 hourly buckets stays far below max_buckets


_iso = partial(timefmt.iso, exact=True)  # the bounds as the records' times are written


def _range(name: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {name: {"gte": _iso(start), "lt": _iso(end)}}}


def _scope(agency: str | None) -> list[dict[str, Any]]:
    return [{"term": {ORG: agency}}] if agency else []


def _streams(names: Names) -> str:
    return f"{names.syslog},{names.web}"


def _terms(agg: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(b.get("key_as_string", b["key"])), int(b["doc_count"])) for b in agg["buckets"]]


Weeks = dict[str, tuple[datetime, datetime]]


def events_by_agency_source(client: OpenSearch, names: Names, agency: str | None,
                            weeks: Weeks) -> dict[str, dict[str, dict[str, int]]]:
    """week key -> agency -> source id (or "-" when none) -> event count, from one search."""
    spans = list(weeks.values())
    body = {"size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [*_scope(agency), _range("@timestamp", min(s for s, _ in spans),
                                                                  max(e for _, e in spans))]}},
            "aggs": {"weeks": {"date_range": {"field": "@timestamp", "keyed": True, "ranges": [
                {"key": key, "from": _iso(s), "to": _iso(e)} for key, (s, e) in weeks.items()]},
                "aggs": {"agencies": {"terms": {"field": ORG, "size": 1000, "missing": "-"},
                                      "aggs": {"sources": {"terms": {"field": "log.source.id", "size": 1000,
                                                                     "missing": "-"}}}}}}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for key, bucket in resp["aggregations"]["weeks"]["buckets"].items():
        out[key] = {str(a["key"]): dict(_terms(a["sources"])) for a in bucket["agencies"]["buckets"]}
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
            {"agency": {"terms": {"field": ORG}}}, {"source": {"terms": {"field": "log.source.id"}}}]}
        if after:
            composite["after"] = after
        body = {"size": 0, "track_total_hits": False,
                "query": {"bool": {"filter": [*_scope(agency), _range("@timestamp", start, end),
                                              {"exists": {"field": "log.source.id"}}]}},
                "aggs": {"sources": {"composite": composite, "aggs": {"hours": {"date_histogram": {
                    "field": "@timestamp", "fixed_interval": "1h", "min_doc_count": 0, "offset": 0,
                    "extended_bounds": {"min": _iso(start), "max": _iso(end)},
                    "hard_bounds": {"min": _iso(start), "max": _iso(end)}}}}}}}
        resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
        agg = resp["aggregations"]["sources"]
        for b in agg["buckets"]:
            counts = [int(h["doc_count"]) for h in b["hours"]["buckets"]][:hours]
            yield str(b["key"]["agency"]), str(b["key"]["source"]), counts + [0] * (hours - len(counts))
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return


def alerts(client: OpenSearch, names: Names, agency: str | None, weeks: Weeks,
           top_n: int, tz: str) -> dict[str, dict[str, Any]]:
    """week key -> {total, severity, rules, tactics, sources, per_day, late} from the alerts whose events
    happened in that week (event time: a backlog detected later counts in the week it happened; ``late``
    counts those detected more than LATE_S after their events)."""
    per_week = {"severity": {"terms": {"field": "severity", "size": 10}},
                "rules": {"terms": {"field": "rule.id", "size": top_n},
                          "aggs": {"name": {"terms": {"field": "rule.name.keyword", "size": 1}},
                                   "level": {"terms": {"field": "rule.level", "size": 1}}}},
                "tactics": {"terms": {"field": "threat.tactic.name", "size": 20}},
                "sources": {"terms": {"field": "source.ip", "size": top_n},
                            "aggs": {"agencies": {"cardinality": {"field": ORG}},
                                     "rules": {"cardinality": {"field": "rule.id"}}}},
                "per_day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d", "time_zone": tz,
                                               "format": "yyyy-MM-dd", "min_doc_count": 0}},
                "late": {"filter": {"range": {"delay_s": {"gt": LATE_S}}}}}
    aggs = {key: {"filter": _range("@timestamp", s, e), "aggs": per_week} for key, (s, e) in weeks.items()}
    resp = client.search(index=names.alerts, body={"size": 0, "track_total_hits": False,
                                                   "query": {"bool": {"filter": _scope(agency)}}, "aggs": aggs})
    out: dict[str, dict[str, Any]] = {}
    for key in weeks:
        a = resp["aggregations"][key]
        out[key] = {
            "total": int(a["doc_count"]), "severity": dict(_terms(a["severity"])), "late": int(a["late"]["doc_count"]),
            "tactics": _terms(a["tactics"]), "per_day": dict(_terms(a["per_day"])),
            "rules": [{"id": str(b["key"]), "name": (_terms(b["name"]) or [("", 0)])[0][0],
                       "level": (_terms(b["level"]) or [("", 0)])[0][0], "count": int(b["doc_count"])}
                      for b in a["rules"]["buckets"]],
            "sources": [{"ip": str(b["key"]), "alerts": int(b["doc_count"]), "agencies": int(b["agencies"]["value"]),
                         "rules": int(b["rules"]["value"])} for b in a["sources"]["buckets"]],
        }
    return out


def targets(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
            attackers: list[str], top_n: int) -> dict[str, list[tuple[str, int]]]:
    """The URLs, hosts and accounts most often named in the week's events from the attacking addresses."""
    empty: dict[str, list[tuple[str, int]]] = {"urls": [], "hosts": [], "accounts": []}
    if not attackers:
        return empty
    body = {"size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [*_scope(agency), _range("@timestamp", start, end),
                                          {"terms": {"source.ip": attackers}}]}},
            "aggs": {"urls": {"terms": {"field": "url.path", "size": top_n}},
                     "hosts": {"terms": {"field": "host.name", "size": top_n}},
                     "accounts": {"terms": {"field": "user.name", "size": top_n}}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True)
    return {k: _terms(resp["aggregations"][k]) for k in empty}


def _incident_week(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "opened": {"filter": _range("created", start, end),
                   "aggs": {"severity": {"terms": {"field": "severity", "size": 10}}}},
        "acknowledged": {"filter": _range("acknowledged_at", start, end),
                         "aggs": {"tta": {"avg": {"field": "tta_seconds"}}}},
        "resolved": {"filter": _range("resolved_at", start, end),
                     "aggs": {"ttr": {"avg": {"field": "ttr_seconds"}},
                              "resolution": {"terms": {"field": "resolution", "size": 10}}}},
        "open_at_end": {"filter": {"bool": {"filter": [{"range": {"created": {"lt": _iso(end)}}}],
                                            "must_not": [{"range": {"resolved_at": {"lt": _iso(end)}}}]}}},
        "ack_breaches": {"filter": {"bool": {"filter": [_range("sla.ack_due", start, end),
                                                        {"term": {"sla.ack_breached": True}}]}}},
        "resolve_breaches": {"filter": {"bool": {"filter": [_range("sla.resolve_due", start, end),
                                                            {"term": {"sla.resolve_breached": True}}]}}},
    }


def incidents(client: OpenSearch, names: Names, agency: str | None,
              weeks: Weeks) -> dict[str, dict[str, Any]]:
    """week key -> opened (by severity), acknowledged (MTTA), resolved (MTTR, resolutions), open at the
    week's end, SLA breaches whose due time fell in the week. Merged incidents are left out."""
    aggs = {f"{key}|{name}": agg for key, (s, e) in weeks.items() for name, agg in _incident_week(s, e).items()}
    query = {"bool": {"filter": _scope(agency), "must_not": [{"exists": {"field": "merged_into"}}]}}
    resp = client.search(index=names.incidents, body={"size": 0, "track_total_hits": False, "query": query,
                                                      "aggs": aggs})
    out: dict[str, dict[str, Any]] = {}
    for key in weeks:
        a = {name: resp["aggregations"][f"{key}|{name}"] for name in _incident_week(*weeks[key])}
        tta, ttr = a["acknowledged"]["tta"]["value"], a["resolved"]["ttr"]["value"]
        out[key] = {"opened": int(a["opened"]["doc_count"]),
                    "opened_by_severity": dict(_terms(a["opened"]["severity"])),
                    "acknowledged": int(a["acknowledged"]["doc_count"]), "resolved": int(a["resolved"]["doc_count"]),
                    "resolutions": dict(_terms(a["resolved"]["resolution"])),
                    "open_at_end": int(a["open_at_end"]["doc_count"]),
                    "mtta_seconds": None if tta is None else round(float(tta)),
                    "mttr_seconds": None if ttr is None else round(float(ttr)),
                    "ack_breaches": int(a["ack_breaches"]["doc_count"]),
                    "resolve_breaches": int(a["resolve_breaches"]["doc_count"])}
    return out


LATE_S = LATE_NOTICE_S

NOTABLE_FIELDS = ["id", "title", "severity", "status", "resolution", "organization", "created", "resolved_at",
                  "first_seen", "detection_delay_s",
                  "alert_count", "entities", "rule_ids", "assignee", "comments", "sla"]


def notable_incidents(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
                      limit: int) -> list[dict[str, Any]]:
    """Critical and high incidents alive during the week: opened in it, resolved in it, or open through it."""
    alive = {"bool": {"filter": [{"range": {"created": {"lt": _iso(end)}}}],
                      "must_not": [{"range": {"resolved_at": {"lt": _iso(start)}}}]}}
    body = {"size": limit, "_source": NOTABLE_FIELDS,
            "query": {"bool": {"filter": [*_scope(agency), {"terms": {"severity": ["critical", "high"]}}, alive],
                               "must_not": [{"exists": {"field": "merged_into"}}]}},
            "sort": [{"severity_rank": "desc"}, {"created": "asc"}, {"id": "asc"}]}
    resp = client.search(index=names.incidents, body=body)
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def changes(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
            limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Audit entries about rules and exceptions written in the week: (how many, the newest ``limit``)."""
    scope = [{"bool": {"should": [{"term": {ORG: agency}},
                                  {"bool": {"must_not": [{"exists": {"field": ORG}}]}}]}}] if agency else []
    body = {"size": limit, "track_total_hits": True, "_source": ["@timestamp", "actor", "action", "object_type",
                                                                  "object_id", "organization", "summary"],
            "query": {"bool": {"filter": [*scope, _range("@timestamp", start, end),
                                          {"terms": {"object_type": ["rule", "exception"]}}]}},
            "sort": [{"@timestamp": "desc"}, {"_seq_no": "desc"}]}
    resp = client.search(index=names.audit, body=body)
    return int(resp["hits"]["total"]["value"]), [hit["_source"] for hit in resp["hits"]["hits"]]


def agencies(client: OpenSearch, names: Names) -> dict[str, dict[str, Any]]:
    """Every agency document by id ({id, name_vi, name_en, timezone})."""
    resp = client.search(index=names.agencies, body={"size": 1000, "query": {"match_all": {}}})
    out: dict[str, dict[str, Any]] = {}
    for hit in resp["hits"]["hits"]:
        doc = hit["_source"]
        out[str(doc.get("id") or hit["_id"])] = doc
    return out


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


def origins(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
            top_n: int) -> dict[str, Any]:
    """The week's alerts by their source address's country and network (the geo and AS data the alerts
    were given when detected), the addresses behind each, and how many alerts had a source address that
    is never looked up (private, documentation...) or that the databases do not know."""
    def per(field: str, name: str) -> dict[str, Any]:
        return {"terms": {"field": field, "size": top_n},
                "aggs": {"name": {"terms": {"field": name, "size": 1}},
                         "addresses": {"cardinality": {"field": "source.ip"}}}}

    body = {"size": 0, "track_total_hits": True,
            "query": {"bool": {"filter": [*_scope(agency), _range("@timestamp", start, end),
                                          {"exists": {"field": "source.ip"}}]}},
            "aggs": {"countries": per("source.geo.country_iso_code", "source.geo.country_name"),
                     "networks": per("source.as.number", "source.as.organization.name"),
                     "special": {"filter": {"exists": {"field": "labels.source_ip_scope"}}},
                     "placed": {"filter": {"exists": {"field": "source.geo.country_iso_code"}}}}}
    resp = client.search(index=names.alerts, body=body)
    aggs = resp["aggregations"]

    def rows(agg: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"key": b["key"], "name": (_terms(b["name"]) or [("", 0)])[0][0], "alerts": int(b["doc_count"]),
                 "addresses": int(b["addresses"]["value"])} for b in agg["buckets"]]

    total = int(resp["hits"]["total"]["value"])
    special, placed = int(aggs["special"]["doc_count"]), int(aggs["placed"]["doc_count"])
    return {"countries": rows(aggs["countries"]), "networks": rows(aggs["networks"]), "with_address": total,
            "special": special, "unknown": max(0, total - special - placed)}
