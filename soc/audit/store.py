"""Append-only audit documents in ``soc-audit``.

A document: ``{"@timestamp", "actor", "action", "object_type", "object_id", "organization": {"id"},
"summary", "details": {"before": {...}, "after": {...}, ...}}``. Only the fields a change touched
are kept in before/after, so a document says what changed without copying whole objects.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc import aggs as agg_dsl
from soc.search import Names

MAX_PAGE = 500


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys whose values differ, as (before, after) summaries."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def entry(at: datetime, actor: str, action: str, object_type: str, object_id: str, agency: str | None,
          summary: str = "", **details: Any) -> dict[str, Any]:
    return {"@timestamp": at.isoformat(), "actor": actor, "action": action, "object_type": object_type,
            "object_id": object_id, "organization": {"id": agency}, "summary": summary, "details": details}


def append(client: OpenSearch, names: Names, entries: list[dict[str, Any]], refresh: bool | str = False) -> None:
    """Write audit documents; a failure raises (a change that cannot be audited is reported).
    ``refresh="wait_for"``: return once they are searchable (a page shown next lists them)."""
    if not entries:
        return
    body: list[dict[str, Any]] = []
    for doc in entries:
        # Ties between equal timestamps are broken by the sequence number (soc-audit has one shard and
        # is append-only, so it is unique and in write order); sorting on _id would load its
        # deprecated fielddata. The id still says when the entry was written.
        body.append({"create": {"_index": names.audit, "_id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"}})
        body.append(doc)
    resp = client.bulk(body=body, refresh=refresh)
    if resp.get("errors"):
        bad = [i for i in resp["items"] if i["create"].get("error")]
        raise RuntimeError(f"{len(bad)} audit documents were refused: {bad[0]['create']['error']}")


def search(client: OpenSearch, names: Names, filters: list[dict[str, Any]], size: int,
           search_after: list[Any] | None = None, ascending: bool = False) -> list[tuple[list[Any], dict[str, Any]]]:
    order = "asc" if ascending else "desc"
    body: dict[str, Any] = {"size": min(size, MAX_PAGE), "query": {"bool": {"filter": filters}},
                            "sort": [{"@timestamp": order}, {"_seq_no": order}]}
    if search_after:
        body["search_after"] = search_after
    resp = client.search(index=names.audit, body=body)
    return [(hit["sort"], hit["_source"] | {"id": hit["_id"]}) for hit in resp["hits"]["hits"]]


def rule_changes(client: OpenSearch, names: Names, agency: str | None, start: datetime, end: datetime,
            limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Audit entries about rules and exceptions written in the week: (how many, the newest ``limit``)."""
    scope = [{"bool": {"should": [{"term": {agg_dsl.ORG: agency}},
                                  {"bool": {"must_not": [{"exists": {"field": agg_dsl.ORG}}]}}]}}] if agency else []
    body = {"size": limit, "track_total_hits": True, "_source": ["@timestamp", "actor", "action", "object_type",
                                                                  "object_id", "organization", "summary"],
            "query": {"bool": {"filter": [*scope, agg_dsl.window("@timestamp", start, end),
                                          {"terms": {"object_type": ["rule", "exception"]}}]}},
            "sort": [{"@timestamp": "desc"}, {"_seq_no": "desc"}]}
    resp = client.search(index=names.audit, body=body)
    return int(resp["hits"]["total"]["value"]), [hit["_source"] for hit in resp["hits"]["hits"]]
