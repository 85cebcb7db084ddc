"""Agency documents in ``soc-agencies`` (``_id`` = agency id).

A document: ``{"id", "name_vi", "name_en", "timezone", "contacts": [...], "collector_address",
"created"}``.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from soc.errors import Conflict, NotFound
from soc.search import Names

MAX_AGENCIES = 1000


def create(client: OpenSearch, names: Names, doc: dict[str, Any]) -> None:
    try:
        client.create(index=names.agencies, id=doc["id"], body=doc, refresh="wait_for")
    except ConflictError:
        raise Conflict(f"agency {doc['id']!r} already exists") from None


def get(client: OpenSearch, names: Names, agency_id: str) -> dict[str, Any]:
    try:
        resp = client.get(index=names.agencies, id=agency_id)
    except NotFoundError:
        raise NotFound(f"agency {agency_id!r} does not exist") from None
    return dict(resp["_source"])


def search(client: OpenSearch, names: Names, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Every agency (or those named), ordered by id."""
    query: dict[str, Any] = {"terms": {"id": ids}} if ids is not None else {"match_all": {}}
    resp = client.search(index=names.agencies, body={"size": MAX_AGENCIES, "query": query,
                                                      "sort": [{"id": "asc"}]})
    return [dict(h["_source"]) for h in resp["hits"]["hits"]]


def update(client: OpenSearch, names: Names, agency_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    try:
        client.update(index=names.agencies, id=agency_id, body={"doc": changes}, refresh="wait_for",
                      retry_on_conflict=3)
    except NotFoundError:
        raise NotFound(f"agency {agency_id!r} does not exist") from None
    return get(client, names, agency_id)


def by_id(client: OpenSearch, names: Names) -> dict[str, dict[str, Any]]:
    """Every agency document by id ({id, name_vi, name_en, timezone})."""
    resp = client.search(index=names.agencies, body={"size": 1000, "query": {"match_all": {}}})
    out: dict[str, dict[str, Any]] = {}
    for hit in resp["hits"]["hits"]:
        doc = hit["_source"]
        out[str(doc.get("id") or hit["_id"])] = doc
    return out
