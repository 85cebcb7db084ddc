"""Suppression rules in ``soc-exceptions`` (the index keeps its older name): the only code that touches it.

A stored rule: ``{"rule_id" (or "*"), "organization": {"id"} (or "*"), "conditions": [{"field",
"op", "value"}], "enabled", "expires", "owner", "reason", "incident_id", "hits", "last_hit",
"created", "updated", "created_by"}``, op one of ``soc.suppressions.match.OPS``. The API creates,
expires and deletes rules; detection reads the active ones and adds each cycle's suppressed
matches to ``hits`` (and sets ``last_hit``) instead of writing alerts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.errors import NotFound
from soc.search import Names

MAX_PAGE = 200


class SuppressionStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        rule_id = uuid.uuid4().hex
        self.client.create(index=self.names.exceptions, id=rule_id, body=doc, refresh=True)
        return doc | {"id": rule_id}

    def get(self, rule_id: str) -> dict[str, Any]:
        try:
            resp = self.client.get(index=self.names.exceptions, id=rule_id)
        except NotFoundError:
            raise NotFound(f"exception {rule_id!r} does not exist") from None
        return dict(resp["_source"]) | {"id": resp["_id"]}

    def update(self, rule_id: str, changes: dict[str, Any]) -> None:
        self.client.update(index=self.names.exceptions, id=rule_id, body={"doc": changes}, refresh=True,
                           retry_on_conflict=5)

    def delete(self, rule_id: str) -> None:
        self.client.delete(index=self.names.exceptions, id=rule_id, refresh=True)

    def search(self, filters: list[dict[str, Any]], size: int, search_after: list[Any] | None = None
               ) -> list[tuple[list[Any], dict[str, Any]]]:
        body: dict[str, Any] = {"size": min(size, MAX_PAGE), "query": {"bool": {"filter": filters}},
                                "sort": [{"created": "desc"}, {"_id": "desc"}]}
        if search_after:
            body["search_after"] = search_after
        resp = self.client.search(index=self.names.exceptions, body=body)
        return [(h["sort"], h["_source"] | {"id": h["_id"]}) for h in resp["hits"]["hits"]]


def active(client: OpenSearch, names: Names, now: datetime) -> list[dict[str, Any]]:
    """Enabled rules that have not expired, each with its id under ``_id`` (what detection applies)."""
    body = {"size": 10000, "query": {"bool": {
        "filter": [{"term": {"enabled": True}}],
        "must_not": [{"range": {"expires": {"lte": now.isoformat()}}}]}}}
    resp = client.search(index=names.exceptions, body=body, ignore_unavailable=True)
    return [{"_id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]]


def count_hits(client: OpenSearch, names: Names, hits: dict[str, int], when: str) -> None:
    """Add a cycle's suppressed matches to each rule's counter (one request, only when some were)."""
    if not hits:
        return
    ops: list[dict[str, Any]] = []
    for rule_id, count in hits.items():
        ops += [{"update": {"_index": names.exceptions, "_id": rule_id, "retry_on_conflict": 5}},
                {"script": {"lang": "painless", "params": {"n": count, "when": when},
                            "source": "ctx._source.hits = (ctx._source.hits == null ? 0 : ctx._source.hits) + params.n;"
                                      "ctx._source.last_hit = params.when;"}}]
    client.bulk(body=ops, refresh=True)
