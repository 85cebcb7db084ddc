"""Reads and writes of ``soc-alerts``: the alerts package's store, the one place meant to touch the index.

Detection creates alerts (create-only, deterministic ids) and extends correlation episodes;
intelligence matching writes its own alerts through the same call. Grouping changes two fields
of an alert and nothing else: ``incident_id`` (the incident it belongs to) and ``grouped`` (false
from the moment it is claimed until its incident has been written, then true). An alert with
``grouped: false`` is half-done work that the next grouping run repairs. Alerts grouped before
the flag existed carry no ``grouped`` and count as done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc import aggs as agg_dsl
from soc.alerts.documents import LATE_NOTICE_S, AlertDoc
from soc.errors import NotFound
from soc.incidents.model import ENTITY_FIELDS
from soc.search import Names

MAX_PAGE = 200


@dataclass
class PendingAlert:
    id: str
    seq_no: int
    primary_term: int
    doc: dict[str, Any]


# What became of an incident's alerts: results counted, and a few reasons of the successes.
_OUTCOME_AGGS: dict[str, Any] = {
    "results": {"terms": {"field": "outcome.result", "size": 10}},
    "won": {"filter": {"term": {"outcome.result": "succeeded"}},
            "aggs": {"reasons": {"terms": {"field": "outcome.reason", "size": 5}}}}}


def _outcomes_of(aggs: dict[str, Any], total: int) -> tuple[dict[str, int], list[str]]:
    """Counts per result (the alerts no judge has seen: unknown) and the successes' reasons."""
    counts = {str(b["key"]): int(b["doc_count"]) for b in aggs.get("results", {}).get("buckets", [])}
    counts["unknown"] = counts.get("unknown", 0) + total - sum(counts.values())
    reasons = sorted(str(b["key"]) for b in aggs.get("won", {}).get("reasons", {}).get("buckets", []))
    return counts, reasons


class AlertStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    @property
    def index(self) -> str:
        return self.names.alerts

    def pending(self, size: int) -> list[PendingAlert]:
        """Alerts no incident has taken yet, and alerts claimed but not yet confirmed, oldest first."""
        self.client.indices.refresh(index=self.index)
        body = {"size": size, "query": {"bool": {"should": [
                    {"bool": {"must_not": [{"exists": {"field": "incident_id"}}]}},
                    {"term": {"grouped": False}}], "minimum_should_match": 1,
                    # an episode joined into an earlier alert by late events is not new work
                    "must_not": [{"exists": {"field": "superseded_by"}}]}},
                "sort": [{"first_seen": "asc"}, {"_id": "asc"}], "seq_no_primary_term": True}
        resp = self.client.search(index=self.index, body=body)
        return [PendingAlert(h["_id"], h["_seq_no"], h["_primary_term"], h["_source"]) for h in resp["hits"]["hits"]]

    def claim(self, assignments: list[tuple[PendingAlert, str]], refresh: bool = False) -> set[str]:
        """Set incident_id on each alert unless someone changed it since it was read; returns the ids taken."""
        if not assignments:
            return set()
        body: list[dict[str, Any]] = []
        for alert, incident_id in assignments:
            body.append({"update": {"_index": self.index, "_id": alert.id, "if_seq_no": alert.seq_no,
                                    "if_primary_term": alert.primary_term}})
            change: dict[str, Any] = {"incident_id": incident_id, "grouped": False}
            for name in ("outcome", "fingerprints"):  # judged by this run (soc.incidents.outcome)
                if alert.doc.get(name):
                    change[name] = alert.doc[name]
            body.append({"doc": change})
        resp = self.client.bulk(body=body, refresh=refresh)
        return {item["update"]["_id"] for item in resp["items"] if not item["update"].get("error")}

    def confirm(self, alert_ids: list[str]) -> None:
        """Mark alerts whose incident has been written as done (idempotent)."""
        if not alert_ids:
            return
        body: list[dict[str, Any]] = []
        for alert_id in alert_ids:
            body.append({"update": {"_index": self.index, "_id": alert_id, "retry_on_conflict": 3}})
            body.append({"doc": {"grouped": True}})
        resp = self.client.bulk(body=body)
        bad = [i["update"] for i in resp["items"] if i["update"].get("error") and i["update"].get("status") != 404]
        if bad:
            raise RuntimeError(f"{len(bad)} alerts could not be confirmed: {bad[0].get('error')}")

    def total(self) -> int:
        """How many alerts there are (after a refresh)."""
        self.client.indices.refresh(index=self.index)
        return int(self.client.count(index=self.index)["count"])

    def count(self, incident_ids: list[str]) -> int:
        """How many alerts carry one of these incident ids (the source of every incident's alert count)."""
        resp = self.client.count(index=self.index, body={"query": {"terms": {"incident_id": incident_ids}}})
        return int(resp["count"])

    def outcomes(self, incident_ids: list[str]) -> tuple[dict[str, int], list[str]]:
        """How many alerts of some incidents succeeded, failed... (none judged: unknown), and the reasons
        of the successes (a few)."""
        resp = self.client.search(index=self.index, track_total_hits=True, body={
            "size": 0, "query": {"terms": {"incident_id": incident_ids}}, "aggs": _OUTCOME_AGGS})
        return _outcomes_of(resp.get("aggregations", {}), int(resp["hits"]["total"]["value"]))

    def tallies(self, incident_ids: list[str]) -> dict[str, tuple[int, dict[str, int], list[str]]]:
        """Per incident id, in one request: what ``count`` and ``outcomes`` give for that id alone (an id
        no alert carries is left out)."""
        if not incident_ids:
            return {}
        resp = self.client.search(index=self.index, body={
            "size": 0, "query": {"terms": {"incident_id": incident_ids}},
            "aggs": {"incidents": {"terms": {"field": "incident_id", "size": len(incident_ids)},
                                   "aggs": _OUTCOME_AGGS}}})
        return {str(b["key"]): (int(b["doc_count"]), *_outcomes_of(b, int(b["doc_count"])))
                for b in resp.get("aggregations", {}).get("incidents", {}).get("buckets", [])}

    def get(self, alert_id: str) -> dict[str, Any]:
        try:
            resp = self.client.get(index=self.index, id=alert_id)
        except NotFoundError:
            raise NotFound(f"alert {alert_id!r} does not exist") from None
        return dict(resp["_source"]) | {"id": resp["_id"]}

    def search(self, filters: list[dict[str, Any]], size: int,
               search_after: list[Any] | None = None) -> list[tuple[list[Any], dict[str, Any]]]:
        body: dict[str, Any] = {"size": min(size, MAX_PAGE), "query": {"bool": {"filter": filters}},
                                "sort": [{"first_seen": "desc"}, {"_id": "desc"}]}
        if search_after:
            body["search_after"] = search_after
        resp = self.client.search(index=self.index, body=body)
        return [(h["sort"], h["_source"] | {"id": h["_id"]}) for h in resp["hits"]["hits"]]

    def reassign(self, from_ids: list[str], to_id: str) -> int:
        """Move every alert of some incidents to another (merge keeps them; used by repairs)."""
        resp = self.client.update_by_query(index=self.index, refresh=True, conflicts="proceed", body={
            "query": {"terms": {"incident_id": from_ids}},
            "script": {"source": "ctx._source.incident_id = params.to", "lang": "painless",
                       "params": {"to": to_id}}})
        return int(resp.get("updated", 0))

    def aggregate(self, incident_ids: list[str]) -> dict[str, Any]:
        """Count, seen times, top severity, rules, tags and entities of the alerts of some incidents."""
        terms = {name.replace(".", "_"): {"terms": {"field": name, "size": 100}} for name in ENTITY_FIELDS}
        aggs: dict[str, Any] = {
            "first": {"min": {"field": "first_seen"}}, "last": {"max": {"field": "last_seen"}},
            "rank": {"max": {"field": "severity_rank"}}, "rules": {"terms": {"field": "rule.id", "size": 100}},
            "rule_tags": {"terms": {"field": "rule.tags", "size": 100}},
            "techniques": {"terms": {"field": "threat.technique.id", "size": 100}},
            "tactics": {"terms": {"field": "threat.tactic.name", "size": 100}},
            "group_keys": {"terms": {"field": "group_key", "size": 100}},
            "fingerprints": {"terms": {"field": "fingerprints", "size": 20}}, **terms}
        self.client.indices.refresh(index=self.index)
        resp = self.client.search(index=self.index, track_total_hits=True, body={
            "size": 0, "query": {"terms": {"incident_id": incident_ids}}, "aggs": aggs})
        a = resp["aggregations"]

        def keys(name: str) -> list[str]:
            return [str(b.get("key_as_string", b["key"])) for b in a[name]["buckets"]]

        entities = set(keys("group_keys"))
        for name in ENTITY_FIELDS:
            entities.update(f"{name}={v}" for v in keys(name.replace(".", "_")))
        tags = {t for t in keys("rule_tags") if t.startswith("attack.")} | set(keys("techniques"))
        tags.update(f"tactic:{t}" for t in keys("tactics"))
        return {"alert_count": int(resp["hits"]["total"]["value"]),
                "first_seen": a["first"].get("value_as_string"), "last_seen": a["last"].get("value_as_string"),
                "severity_rank": int(a["rank"]["value"] or 0), "rule_ids": sorted(keys("rules")),
                "tags": sorted(tags), "entities": sorted(entities), "fingerprints": sorted(keys("fingerprints"))}


def create_alerts(client: OpenSearch, names: Names, alerts: list[tuple[str, AlertDoc]],
                  chunk_size: int = 5000, updates: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[int, int]:
    """Create alerts; an id that already exists is left alone (a re-run). Returns (created, existing).

    ``updates`` (alert id, partial document) extend reported correlation episodes in the same requests.
    A detection cycle writes all its alerts through one call (one request below ``chunk_size``). The
    last request refreshes ``soc-alerts`` at once (no wait for the refresh interval), so grouping and
    the next cycle's correlation merging see them. Raises when any other item failed, so that the
    caller does not advance its checkpoint.
    """
    ops: list[Any] = []
    for alert_id, doc in alerts:
        ops.append(({"create": {"_index": names.alerts, "_id": alert_id}}, doc))
    for alert_id, part in updates or []:
        ops.append(({"update": {"_index": names.alerts, "_id": alert_id, "retry_on_conflict": 5}}, {"doc": part}))
    if not ops:
        return 0, 0
    created = existing = 0
    for start in range(0, len(ops), chunk_size):
        body = [line for pair in ops[start:start + chunk_size] for line in pair]
        resp = client.bulk(body=body, refresh=start + chunk_size >= len(ops))
        failures: list[str] = []
        for item in resp["items"]:
            op, result = next(iter(item.items()))
            if op == "create" and result.get("status") == 409:
                existing += 1
            elif result.get("status", 500) >= 300:
                failures.append(str(result.get("error")))
            elif op == "create":
                created += 1
        if failures:
            raise RuntimeError(f"{len(failures)} alerts could not be written: {failures[0]}")
    return created, existing


def correlation_alerts(client: OpenSearch, names: Names, rule_id: str, group_keys: list[str], agencies: list[str],
                       start: str, end: str) -> list[dict[str, Any]]:
    """The live (not superseded) alerts of a correlation rule for some groups whose episode overlaps
    [start, end] in event time."""
    body = {"size": 10000, "_source": ["organization.id", "group_key", "first_seen", "last_seen", "events"],
            "query": {"bool": {"filter": [
                {"term": {"rule.id": rule_id}}, {"terms": {"group_key": group_keys}},
                {"terms": {"organization.id": agencies}},
                {"range": {"last_seen": {"gte": start}}}, {"range": {"first_seen": {"lte": end}}}],
                "must_not": [{"exists": {"field": "superseded_by"}}]}}}
    resp = client.search(index=names.alerts, body=body, ignore_unavailable=True)
    hits: list[dict[str, Any]] = resp["hits"]["hits"]
    return hits


def hits_by_rule(client: OpenSearch, names: Names, agencies: list[str]) -> dict[str, int]:
    """Alerts per rule id within ``agencies`` (what an agency-scoped reader may count)."""
    body = {"size": 0, "query": {"bool": {"filter": [{"terms": {"organization.id": agencies}}]}},
            "aggs": {"rules": {"terms": {"field": "rule.id", "size": 10_000}}}}
    resp = client.search(index=names.alerts, body=body, ignore_unavailable=True)
    buckets = ((resp.get("aggregations") or {}).get("rules") or {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


def alerts_by_org(client: OpenSearch, names: Names) -> list[dict[str, Any]]:
    client.indices.refresh(index=names.alerts)
    resp = client.search(index=names.alerts, body={"size": 10000, "query": {"match_all": {}}})
    return [h["_source"] for h in resp["hits"]["hits"]]


def all_alerts(client: OpenSearch, names: Names, page: int = 2000) -> list[dict[str, Any]]:
    """Every alert of a deployment (paged with search_after), each with its id under ``_id``."""
    client.indices.refresh(index=names.alerts)
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        # one shard; quiet reads (evaluation, benchmarks): the sequence number orders without _id fielddata
        body: dict[str, Any] = {"size": page, "query": {"match_all": {}}, "sort": [{"_seq_no": "asc"}]}
        if after:
            body["search_after"] = after
        hits = client.search(index=names.alerts, body=body)["hits"]["hits"]
        out += [{"_id": h["_id"], **h["_source"]} for h in hits]
        if len(hits) < page:
            return out
        after = hits[-1]["sort"]


# The weekly report's aggregations over the alerts (soc.reports.content).

def weekly(client: OpenSearch, names: Names, agency: str | None, weeks: agg_dsl.Weeks,
           top_n: int, tz: str) -> dict[str, dict[str, Any]]:
    """week key -> {total, severity, rules, tactics, sources, per_day, late} from the alerts whose events
    happened in that week (event time: a backlog detected later counts in the week it happened; ``late``
    counts those detected more than LATE_NOTICE_S after their events)."""
    per_week = {"severity": {"terms": {"field": "severity", "size": 10}},
                "rules": {"terms": {"field": "rule.id", "size": top_n},
                          "aggs": {"name": {"terms": {"field": "rule.name.keyword", "size": 1}},
                                   "level": {"terms": {"field": "rule.level", "size": 1}}}},
                "tactics": {"terms": {"field": "threat.tactic.name", "size": 20}},
                "sources": {"terms": {"field": "source.ip", "size": top_n},
                            "aggs": {"agencies": {"cardinality": {"field": agg_dsl.ORG}},
                                     "rules": {"cardinality": {"field": "rule.id"}}}},
                "per_day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d", "time_zone": tz,
                                               "format": "yyyy-MM-dd", "min_doc_count": 0}},
                "late": {"filter": {"range": {"delay_s": {"gt": LATE_NOTICE_S}}}}}
    aggs = {key: {"filter": agg_dsl.window("@timestamp", s, e), "aggs": per_week} for key, (s, e) in weeks.items()}
    resp = client.search(index=names.alerts, body={"size": 0, "track_total_hits": False,
                                                   "query": {"bool": {"filter": agg_dsl.scope(agency)}}, "aggs": aggs})
    out: dict[str, dict[str, Any]] = {}
    for key in weeks:
        a = resp["aggregations"][key]
        out[key] = {
            "total": int(a["doc_count"]), "severity": dict(agg_dsl.buckets(a["severity"])),
            "late": int(a["late"]["doc_count"]),
            "tactics": agg_dsl.buckets(a["tactics"]), "per_day": dict(agg_dsl.buckets(a["per_day"])),
            "rules": [{"id": str(b["key"]), "name": (agg_dsl.buckets(b["name"]) or [("", 0)])[0][0],
                       "level": (agg_dsl.buckets(b["level"]) or [("", 0)])[0][0], "count": int(b["doc_count"])}
                      for b in a["rules"]["buckets"]],
            "sources": [{"ip": str(b["key"]), "alerts": int(b["doc_count"]), "agencies": int(b["agencies"]["value"]),
                         "rules": int(b["rules"]["value"])} for b in a["sources"]["buckets"]],
        }
    return out


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
            "query": {"bool": {"filter": [*agg_dsl.scope(agency), agg_dsl.window("@timestamp", start, end),
                                          {"exists": {"field": "source.ip"}}]}},
            "aggs": {"countries": per("source.geo.country_iso_code", "source.geo.country_name"),
                     "networks": per("source.as.number", "source.as.organization.name"),
                     "special": {"filter": {"exists": {"field": "labels.source_ip_scope"}}},
                     "placed": {"filter": {"exists": {"field": "source.geo.country_iso_code"}}}}}
    resp = client.search(index=names.alerts, body=body)
    aggs = resp["aggregations"]

    def rows(agg: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"key": b["key"], "name": (agg_dsl.buckets(b["name"]) or [("", 0)])[0][0],
                 "alerts": int(b["doc_count"]), "addresses": int(b["addresses"]["value"])} for b in agg["buckets"]]

    total = int(resp["hits"]["total"]["value"])
    special, placed = int(aggs["special"]["doc_count"]), int(aggs["placed"]["doc_count"])
    return {"countries": rows(aggs["countries"]), "networks": rows(aggs["networks"]), "with_address": total,
            "special": special, "unknown": max(0, total - special - placed)}
