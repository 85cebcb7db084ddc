"""Source documents, heartbeats and the event statistics health and coverage are computed from.

- ``soc-sources`` holds the onboarded sources, ``_id`` = ``source.<source id>``, ``kind: "source"``::

    {kind, id, log: {source: {id}}, organization: {id}, type, name, host, expected_rate,
     silence_after_minutes, log_path, created, created_by,
     collector: {id, address, port, protocol}}

- ``soc-heartbeats`` the collectors' heartbeats, ``_id`` = ``heartbeat.<collector id>.<source id>``,
  ``kind: "heartbeat"`` (written by the collectors and nothing else, see ``collectors.heartbeat``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from soc.errors import Conflict, NotFound
from soc.search import Names

MAX_SOURCES = 10000
UNKNOWN_SOURCE = "_unknown_source"  # the ingest pipeline's tag (soc.opensearch.ingest)


def doc_id(source_id: str) -> str:
    return f"source.{source_id}"


def create(client: OpenSearch, names: Names, doc: dict[str, Any]) -> None:
    try:
        client.create(index=names.sources, id=doc_id(doc["id"]), body=doc, refresh="wait_for")
    except ConflictError:
        raise Conflict(f"source {doc['id']!r} already exists") from None


def get(client: OpenSearch, names: Names, source_id: str) -> dict[str, Any]:
    try:
        resp = client.get(index=names.sources, id=doc_id(source_id))
    except NotFoundError:
        raise NotFound(f"source {source_id!r} does not exist") from None
    return dict(resp["_source"])


def delete(client: OpenSearch, names: Names, source_id: str) -> None:
    try:
        client.delete(index=names.sources, id=doc_id(source_id), refresh="wait_for")
    except NotFoundError:
        raise NotFound(f"source {source_id!r} does not exist") from None


def search(client: OpenSearch, names: Names, agencies: list[str] | None = None, kind: str = "source",
           source_type: str | None = None, collector_id: str | None = None) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"kind": kind}}]
    if agencies is not None:
        filters.append({"terms": {"organization.id": agencies}})
    if source_type:
        filters.append({"term": {"type": source_type}})
    if collector_id:
        filters.append({"term": {"collector.id": collector_id}})
    resp = client.search(index=names.sources, body={"size": MAX_SOURCES, "query": {"bool": {"filter": filters}},
                                                     "sort": [{"created": {"order": "asc", "unmapped_type": "date"}}]})
    return [dict(h["_source"]) for h in resp["hits"]["hits"]]


def heartbeats(client: OpenSearch, names: Names, source_ids: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest heartbeat of each (agency, source id) (any collector), from ``soc-heartbeats``."""
    if not source_ids:
        return {}
    client.indices.refresh(index=names.heartbeats, ignore_unavailable=True)
    body = {"size": MAX_SOURCES, "query": {"bool": {"filter": [
        {"term": {"kind": "heartbeat"}}, {"terms": {"log.source.id": source_ids}}]}},
        "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}]}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for hit in client.search(index=names.heartbeats, body=body, ignore_unavailable=True)["hits"]["hits"]:
        doc = hit["_source"]
        sid = (doc.get("log") or {}).get("source", {}).get("id")
        org = (doc.get("organization") or {}).get("id")
        if isinstance(sid, str) and isinstance(org, str) and (org, sid) not in out:
            out[(org, sid)] = doc
    return out


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def event_stats(client: OpenSearch, index: str, source_ids: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Per source: last arrival and event time, events in the last hour and day, parse failures (day).

    Arrival is ``event.ingested`` (stamped by OpenSearch), so a host with a wrong clock does not look
    silent or busy.
    """
    if not source_ids:
        return {}
    hour, day = _ms(now - timedelta(hours=1)), _ms(now - timedelta(days=1))
    end = _ms(now)

    def window(start: int) -> dict[str, Any]:
        return {"range": {"event.ingested": {"gte": start, "lte": end, "format": "epoch_millis"}}}

    # An event tagged _unknown_source was written to another agency's stream than its source's: it
    # never counts for the source (health lists it apart, see ``unknown_sources``).
    body = {"size": 0, "query": {"bool": {"filter": [{"terms": {"log.source.id": source_ids}},
                                                     {"range": {"event.ingested": {"lte": end,
                                                                                   "format": "epoch_millis"}}}],
                                          "must_not": [{"term": {"tags": UNKNOWN_SOURCE}}]}},
            "aggs": {"by_source": {"terms": {"field": "log.source.id", "size": len(source_ids)}, "aggs": {
                "last_ingested": {"max": {"field": "event.ingested"}},
                "last_event": {"max": {"field": "@timestamp"}},
                "hour": {"filter": window(hour)},
                "day": {"filter": window(day), "aggs": {
                    "failures": {"filter": {"term": {"tags": "_parse_failure"}}},
                    # events whose own time the ingest pipeline flagged: late (not correlated), clamped
                    # from the future, or missing
                    "late": {"filter": {"term": {"tags": "_late"}}},
                    "future": {"filter": {"term": {"tags": "_future_timestamp"}}},
                    "no_time": {"filter": {"term": {"tags": "_time_missing"}}}}},
            }}}}
    client.indices.refresh(index=index, ignore_unavailable=True)
    resp = client.search(index=index, body=body, ignore_unavailable=True)
    out: dict[str, dict[str, Any]] = {}
    for bucket in resp.get("aggregations", {}).get("by_source", {}).get("buckets", []):
        out[bucket["key"]] = {
            "last_ingested": bucket["last_ingested"].get("value_as_string"),
            "last_event": bucket["last_event"].get("value_as_string"),
            "hour": int(bucket["hour"]["doc_count"]), "day": int(bucket["day"]["doc_count"]),
            "day_failures": int(bucket["day"]["failures"]["doc_count"]),
            "day_late": int(bucket["day"]["late"]["doc_count"]),
            "day_future": int(bucket["day"]["future"]["doc_count"]),
            "day_no_time": int(bucket["day"]["no_time"]["doc_count"])}
    return out


def unknown_sources(client: OpenSearch, index: str, agencies: list[str] | None, since: datetime,
                    now: datetime) -> list[tuple[str, str, int, str | None]]:
    """(agency, source id or "-", events, last arrival) of events tagged ``_unknown_source`` since ``since``."""
    filters: list[dict[str, Any]] = [
        {"term": {"tags": UNKNOWN_SOURCE}},
        {"range": {"event.ingested": {"gte": _ms(since), "lte": _ms(now), "format": "epoch_millis"}}}]
    if agencies is not None:
        filters.append({"terms": {"organization.id": agencies}})
    body = {"size": 0, "query": {"bool": {"filter": filters}}, "aggs": {"org": {
        "terms": {"field": "organization.id", "size": 1000}, "aggs": {"src": {
            "terms": {"field": "log.source.id", "size": 100, "missing": "-"},
            "aggs": {"last": {"max": {"field": "event.ingested"}}}}}}}}
    client.indices.refresh(index=index, ignore_unavailable=True)
    resp = client.search(index=index, body=body, ignore_unavailable=True)
    return [(str(org["key"]), str(src["key"]), int(src["doc_count"]), src["last"].get("value_as_string"))
            for org in resp.get("aggregations", {}).get("org", {}).get("buckets", [])
            for src in org["src"]["buckets"]]


def find_marker(client: OpenSearch, index: str, source_id: str, marker: str) -> dict[str, Any] | None:
    """The event carrying ``marker`` (a single alphanumeric token) from the source, once searchable."""
    client.indices.refresh(index=index, ignore_unavailable=True)
    body = {"size": 1, "query": {"bool": {"filter": [
        {"term": {"log.source.id": source_id}}, {"match": {"event.original": marker}}]}}}
    hits = client.search(index=index, body=body, ignore_unavailable=True)["hits"]["hits"]
    return dict(hits[0]["_source"]) if hits else None


def field_presence(client: OpenSearch, index: str, agency: str, source_ids: list[str], fields: list[str],
                   since: datetime) -> tuple[int, dict[str, int]]:
    """How many recent events of these sources there are, and how many carry each field."""
    body = {"size": 0, "query": {"bool": {"filter": [
        {"term": {"organization.id": agency}}, {"terms": {"log.source.id": source_ids}},
        {"range": {"event.ingested": {"gte": _ms(since), "format": "epoch_millis"}}}]}},
        "track_total_hits": True,
        "aggs": {f"f{i}": {"filter": {"exists": {"field": name}}} for i, name in enumerate(fields)}}
    client.indices.refresh(index=index, ignore_unavailable=True)
    resp = client.search(index=index, body=body, ignore_unavailable=True)
    total = int(resp["hits"]["total"]["value"])
    aggs = resp.get("aggregations", {})
    return total, {name: int(aggs.get(f"f{i}", {}).get("doc_count", 0)) for i, name in enumerate(fields)}
