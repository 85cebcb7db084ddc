"""Incident documents in ``soc-incidents``, read and written with optimistic concurrency.

Every read returns the document's version (``seq_no``, ``primary_term``); every write names the
version it read, and OpenSearch refuses it when someone else wrote in between (``Stale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

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
