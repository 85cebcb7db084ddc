"""Incident documents in ``soc-incidents``, read and written with optimistic concurrency.

Every read returns the document's version (``seq_no``, ``primary_term``); every write names the
version it read, and OpenSearch refuses it when someone else wrote in between (``Stale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from soc import aggs as agg_dsl
from soc.errors import Conflict, NotFound
from soc.incidents.model import OPEN_STATUSES
from soc.search import Names

MAX_PAGE = 200
MAX_ENTITIES = 500  # campaign candidates: entities seen by several agencies
MAX_INCIDENTS = 100  # per entity and agency


@dataclass(frozen=True)
class Version:
    seq_no: int
    primary_term: int

    def __str__(self) -> str:
        return f"{self.seq_no}-{self.primary_term}"

    @classmethod
    def parse(cls, text: str) -> Version:
        seq, _, term = text.partition("-")
        if not (seq.isdigit() and term.isdigit()) or len(text) > 40:
            raise ValueError("a version looks like 12-1, as returned by a read")
        return cls(int(seq), int(term))


@dataclass
class Stored:
    doc: dict[str, Any]
    version: Version


class Stale(Conflict):
    """The incident changed since the given version was read."""


class IncidentStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    @property
    def index(self) -> str:
        return self.names.incidents

    def get(self, incident_id: str) -> Stored:
        try:
            resp = self.client.get(index=self.index, id=incident_id)
        except NotFoundError:
            raise NotFound(f"incident {incident_id!r} does not exist") from None
        return Stored(resp["_source"], Version(resp["_seq_no"], resp["_primary_term"]))

    def mget(self, ids: list[str]) -> dict[str, Stored]:
        if not ids:
            return {}
        resp = self.client.mget(index=self.index, body={"ids": ids})
        return {d["_id"]: Stored(d["_source"], Version(d["_seq_no"], d["_primary_term"]))
                for d in resp["docs"] if d.get("found")}

    def create(self, doc: dict[str, Any], refresh: bool = False) -> Version:
        try:
            resp = self.client.create(index=self.index, id=doc["id"], body=doc, refresh=refresh)
        except ConflictError:
            raise Stale(f"incident {doc['id']} already exists") from None
        return Version(resp["_seq_no"], resp["_primary_term"])

    def create_many(self, docs: list[dict[str, Any]]) -> set[str]:
        """Create each incident unless it exists, in one request; the ids created."""
        if not docs:
            return set()
        body: list[dict[str, Any]] = []
        for doc in docs:
            body += [{"create": {"_index": self.index, "_id": doc["id"]}}, doc]
        resp = self.client.bulk(body=body)
        bad = [i["create"] for i in resp["items"] if i["create"].get("error") and i["create"].get("status") != 409]
        if bad:
            raise RuntimeError(f"{len(bad)} incidents could not be created: {bad[0].get('error')}")
        return {i["create"]["_id"] for i in resp["items"] if not i["create"].get("error")}

    def replace_many(self, writes: list[tuple[dict[str, Any], Version]]) -> dict[str, Version]:
        """``replace`` for many incidents in one request: the ids written, with their new versions (one
        changed since its version was read is left out)."""
        if not writes:
            return {}
        body: list[dict[str, Any]] = []
        for doc, version in writes:
            body += [{"index": {"_index": self.index, "_id": doc["id"], "if_seq_no": version.seq_no,
                                "if_primary_term": version.primary_term}}, doc]
        resp = self.client.bulk(body=body)
        bad = [i["index"] for i in resp["items"] if i["index"].get("error") and i["index"].get("status") != 409]
        if bad:
            raise RuntimeError(f"{len(bad)} incidents could not be written: {bad[0].get('error')}")
        return {i["index"]["_id"]: Version(i["index"]["_seq_no"], i["index"]["_primary_term"])
                for i in resp["items"] if not i["index"].get("error")}

    def replace(self, doc: dict[str, Any], version: Version, refresh: bool = False) -> Version:
        """Write ``doc`` only if the stored version is still ``version``."""
        try:
            resp = self.client.index(index=self.index, id=doc["id"], body=doc, if_seq_no=version.seq_no,
                                     if_primary_term=version.primary_term, refresh=refresh)
        except ConflictError:
            raise Stale(f"incident {doc['id']} was changed by someone else since version {version}") from None
        return Version(resp["_seq_no"], resp["_primary_term"])

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.index)

    def open_by_keys(self, keys: list[str]) -> dict[str, Stored]:
        """The newest open, unmerged incident for each grouping key."""
        if not keys:
            return {}
        body = {"size": len(keys) * 2 + 10, "query": {"bool": {
            "filter": [{"terms": {"keys": keys}}, {"terms": {"status": list(OPEN_STATUSES)}}],
            "must_not": [{"exists": {"field": "merged_into"}}]}},
            "sort": [{"last_seen": "desc"}], "seq_no_primary_term": True}
        resp = self.client.search(index=self.index, body=body)
        out: dict[str, Stored] = {}
        wanted = set(keys)
        for hit in resp["hits"]["hits"]:
            for key in hit["_source"].get("keys", []):
                if key in wanted and key not in out:
                    out[key] = Stored(hit["_source"], Version(hit["_seq_no"], hit["_primary_term"]))
        return out

    def search(self, query: dict[str, Any], sort: list[dict[str, Any]], size: int,
               search_after: list[Any] | None = None) -> tuple[list[tuple[list[Any], Stored]], int]:
        body: dict[str, Any] = {"size": min(size, MAX_PAGE), "query": query, "sort": sort,
                                "seq_no_primary_term": True, "track_total_hits": 10000,
                                "_source": {"excludes": ["comments", "history", "merge_state"]}}
        if search_after:
            body["search_after"] = search_after
        resp = self.client.search(index=self.index, body=body)
        rows = [(hit["sort"], Stored(hit["_source"], Version(hit["_seq_no"], hit["_primary_term"])))
                for hit in resp["hits"]["hits"]]
        return rows, int(resp["hits"]["total"]["value"])

    def ids_matching(self, query: dict[str, Any], size: int) -> list[str]:
        resp = self.client.search(index=self.index, body={"size": size, "query": query, "_source": False})
        return [hit["_id"] for hit in resp["hits"]["hits"]]

    def metrics(self, query: dict[str, Any]) -> dict[str, Any]:
        body = {"size": 0, "query": query, "aggs": {
            "mtta": {"avg": {"field": "tta_seconds"}}, "mttr": {"avg": {"field": "ttr_seconds"}},
            "acked": {"value_count": {"field": "tta_seconds"}}, "resolved": {"value_count": {"field": "ttr_seconds"}},
            "ack_breached": {"filter": {"term": {"sla.ack_breached": True}}},
            "resolve_breached": {"filter": {"term": {"sla.resolve_breached": True}}},
            "by_status": {"terms": {"field": "status", "size": 10}}}}
        resp = self.client.search(index=self.index, body=body, track_total_hits=True)
        aggs = resp["aggregations"]
        return {"incidents": int(resp["hits"]["total"]["value"]),
                "mtta_seconds": aggs["mtta"]["value"], "mttr_seconds": aggs["mttr"]["value"],
                "acknowledged": int(aggs["acked"]["value"]), "resolved": int(aggs["resolved"]["value"]),
                "ack_breached": int(aggs["ack_breached"]["doc_count"]),
                "resolve_breached": int(aggs["resolve_breached"]["doc_count"]),
                "by_status": {b["key"]: b["doc_count"] for b in aggs["by_status"]["buckets"]}}

    def shared_entities(self, field: str, entity_field: str, since: str, min_agencies: int) -> list[dict[str, Any]]:
        """Values ``<entity_field>=…`` of the incidents' ``field`` (entities, fingerprints) with incidents in
        at least ``min_agencies`` agencies, last seen since ``since``:
        ``[{entity, agencies: {agency: [incident docs (id, rule_ids, first/last seen)]}}]``."""
        pattern = entity_field.replace(".", "\\.") + "=.*"
        body = {"size": 0, "query": {"bool": {
                    "filter": [{"range": {"last_seen": {"gte": since}}}, {"prefix": {field: entity_field + "="}}],
                    "must_not": [{"exists": {"field": "merged_into"}}]}},
                "aggs": {"entities": {
                    "terms": {"field": field, "include": pattern, "size": MAX_ENTITIES},
                    "aggs": {"spread": {"cardinality": {"field": "organization.id"}},
                             "enough": {"bucket_selector": {"buckets_path": {"n": "spread"},
                                                            "script": f"params.n >= {int(min_agencies)}"}},
                             "agencies": {"terms": {"field": "organization.id", "size": 100}, "aggs": {
                                 "incidents": {"top_hits": {"size": MAX_INCIDENTS, "sort": [{"last_seen": "desc"}],
                                                            "_source": ["id", "rule_ids", "first_seen", "last_seen",
                                                                        "status", "severity", "outcome"]}}}}}}}}
        self.refresh()
        resp = self.client.search(index=self.index, body=body)
        out = []
        for bucket in resp["aggregations"]["entities"]["buckets"]:
            agencies = {str(a["key"]): [h["_source"] for h in a["incidents"]["hits"]["hits"]]
                        for a in bucket["agencies"]["buckets"]}
            out.append({"entity": str(bucket["key"]), "agencies": agencies})
        return out


# The weekly report's aggregations over the incidents (soc.reports.content).

def _incident_week(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "opened": {"filter": agg_dsl.window("created", start, end),
                   "aggs": {"severity": {"terms": {"field": "severity", "size": 10}}}},
        "acknowledged": {"filter": agg_dsl.window("acknowledged_at", start, end),
                         "aggs": {"tta": {"avg": {"field": "tta_seconds"}}}},
        "resolved": {"filter": agg_dsl.window("resolved_at", start, end),
                     "aggs": {"ttr": {"avg": {"field": "ttr_seconds"}},
                              "resolution": {"terms": {"field": "resolution", "size": 10}}}},
        "open_at_end": {"filter": {"bool": {"filter": [{"range": {"created": {"lt": agg_dsl.iso(end)}}}],
                                            "must_not": [{"range": {"resolved_at": {"lt": agg_dsl.iso(end)}}}]}}},
        "ack_breaches": {"filter": {"bool": {"filter": [agg_dsl.window("sla.ack_due", start, end),
                                                        {"term": {"sla.ack_breached": True}}]}}},
        "resolve_breaches": {"filter": {"bool": {"filter": [agg_dsl.window("sla.resolve_due", start, end),
                                                            {"term": {"sla.resolve_breached": True}}]}}},
    }


def weekly(client: OpenSearch, names: Names, agency: str | None,
              weeks: agg_dsl.Weeks) -> dict[str, dict[str, Any]]:
    """week key -> opened (by severity), acknowledged (MTTA), resolved (MTTR, resolutions), open at the
    week's end, SLA breaches whose due time fell in the week. Merged incidents are left out."""
    aggs = {f"{key}|{name}": agg for key, (s, e) in weeks.items() for name, agg in _incident_week(s, e).items()}
    query = {"bool": {"filter": agg_dsl.scope(agency), "must_not": [{"exists": {"field": "merged_into"}}]}}
    resp = client.search(index=names.incidents, body={"size": 0, "track_total_hits": False, "query": query,
                                                      "aggs": aggs})
    out: dict[str, dict[str, Any]] = {}
    for key in weeks:
        a = {name: resp["aggregations"][f"{key}|{name}"] for name in _incident_week(*weeks[key])}
        tta, ttr = a["acknowledged"]["tta"]["value"], a["resolved"]["ttr"]["value"]
        out[key] = {"opened": int(a["opened"]["doc_count"]),
                    "opened_by_severity": dict(agg_dsl.buckets(a["opened"]["severity"])),
                    "acknowledged": int(a["acknowledged"]["doc_count"]), "resolved": int(a["resolved"]["doc_count"]),
                    "resolutions": dict(agg_dsl.buckets(a["resolved"]["resolution"])),
                    "open_at_end": int(a["open_at_end"]["doc_count"]),
                    "mtta_seconds": None if tta is None else round(float(tta)),
                    "mttr_seconds": None if ttr is None else round(float(ttr)),
                    "ack_breaches": int(a["ack_breaches"]["doc_count"]),
                    "resolve_breaches": int(a["resolve_breaches"]["doc_count"])}
    return out


NOTABLE_FIELDS = ["id", "title", "severity", "status", "resolution", "organization", "created", "resolved_at",
                  "first_seen", "detection_delay_s",
                  "alert_count", "entities", "rule_ids", "assignee", "comments", "sla"]


def notable_incidents(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
                      limit: int) -> list[dict[str, Any]]:
    """Critical and high incidents alive during the week: opened in it, resolved in it, or open through it."""
    alive = {"bool": {"filter": [{"range": {"created": {"lt": agg_dsl.iso(end)}}}],
                      "must_not": [{"range": {"resolved_at": {"lt": agg_dsl.iso(start)}}}]}}
    body = {"size": limit, "_source": NOTABLE_FIELDS,
            "query": {"bool": {"filter": [*agg_dsl.scope(agency), {"terms": {"severity": ["critical", "high"]}}, alive],
                               "must_not": [{"exists": {"field": "merged_into"}}]}},
            "sort": [{"severity_rank": "desc"}, {"created": "asc"}, {"id": "asc"}]}
    resp = client.search(index=names.incidents, body=body)
    return [hit["_source"] for hit in resp["hits"]["hits"]]
