"""Matched and context events from the log data streams (read only)."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc.search import LOG_STREAMS, Names

MAX_PAGE = 200


class EvidenceStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    def _is_log_index(self, index: str) -> bool:
        """Only an agency's log data stream or its backing indices: an alert's refs never open other indices."""
        return self.names.agency_of(index) is not None

    def events(self, refs: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        docs = [{"_index": r["index"], "_id": r["id"]} for r in refs
                if isinstance(r.get("index"), str) and isinstance(r.get("id"), str) and self._is_log_index(r["index"])]
        if not docs:
            return {}
        resp = self.client.mget(body={"docs": docs})
        return {(d["_index"], d["_id"]): d["_source"] for d in resp["docs"] if d.get("found")}

    def around(self, agency: str, entity_terms: dict[str, list[str]], start: str, end: str, size: int,
               search_after: list[Any] | None = None) -> list[tuple[list[Any], dict[str, Any]]]:
        """Events of the agency naming any of the entities, between start and end, oldest first."""
        should = [{"terms": {name: values}} for name, values in entity_terms.items() if values]
        if not should:
            return []
        body: dict[str, Any] = {
            "size": min(size, MAX_PAGE),
            "query": {"bool": {"filter": [{"term": {"organization.id": agency}},
                                          {"range": {"@timestamp": {"gte": start, "lte": end}}},
                                          {"bool": {"should": should, "minimum_should_match": 1}}]}},
            "sort": [{"@timestamp": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}]}
        if search_after:
            body["search_after"] = search_after
        streams = ",".join(self.names(s) for s in LOG_STREAMS)
        resp = self.client.search(index=streams, body=body, ignore_unavailable=True)
        return [(h["sort"], h["_source"] | {"_index": h["_index"], "_id": h["_id"]}) for h in resp["hits"]["hits"]]
