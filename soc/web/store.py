"""The console's own reads and writes in OpenSearch: sessions, preferences, agencies, source
health, reports and pivot searches over the log streams.

Sessions and preferences live in ``soc-users`` beside users and tokens, as documents of their own
kind: ``session-<first 40 hex of the SHA-256 of the cookie value>`` ``{kind: "session", name, user,
token_id, csrf, lang, flash, created, expires}`` and ``pref-<user>`` ``{kind: "preference", name,
lang}``. Only the hash of a session's cookie value is stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.search import LOG_STREAMS, Names

PARSE_FAILURE_TAG = "_parse_failure"
MAX_SOURCES = 1000


def session_id(secret: str) -> str:
    return "session-" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:40]


def create_session(client: OpenSearch, names: Names, secret: str, doc: dict[str, Any]) -> None:
    client.index(index=names.users, id=session_id(secret), body={"kind": "session", **doc}, refresh=True)


def get_session(client: OpenSearch, names: Names, secret: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = client.get(index=names.users, id=session_id(secret))["_source"]
    except NotFoundError:
        return None
    return doc if doc.get("kind") == "session" else None


def update_session(client: OpenSearch, names: Names, secret: str, changes: dict[str, Any]) -> None:
    client.update(index=names.users, id=session_id(secret), body={"doc": changes}, refresh=True)


def delete_session(client: OpenSearch, names: Names, secret: str) -> None:
    client.delete(index=names.users, id=session_id(secret), refresh=True, ignore=[404])


def get_doc(client: OpenSearch, names: Names, doc_id: str) -> dict[str, Any] | None:
    """A user or token document of ``soc-users`` (sessions re-check them on every request)."""
    try:
        doc: dict[str, Any] = client.get(index=names.users, id=doc_id)["_source"]
    except NotFoundError:
        return None
    return doc


def get_language(client: OpenSearch, names: Names, user: str) -> str | None:
    doc = get_doc(client, names, f"pref-{user}")
    return str(doc["lang"]) if doc and doc.get("kind") == "preference" and doc.get("lang") else None


def set_language(client: OpenSearch, names: Names, user: str, lang: str) -> None:
    client.index(index=names.users, id=f"pref-{user}", body={"kind": "preference", "name": user, "lang": lang},
                 refresh=True)


def agency_zones(client: OpenSearch, names: Names) -> dict[str, str]:
    """Agency id -> IANA time zone, for the agencies that declare one."""
    resp = client.search(index=names.agencies, body={"size": 1000, "_source": ["id", "timezone"],
                                                     "query": {"exists": {"field": "timezone"}}})
    return {str(h["_source"].get("id") or h["_id"]): str(h["_source"]["timezone"]) for h in resp["hits"]["hits"]}


def _streams(names: Names) -> str:
    return ",".join(names(s) for s in LOG_STREAMS)


def events_of(client: OpenSearch, names: Names, agency: str, field: str, value: str, start: str, end: str,
              size: int) -> tuple[list[dict[str, Any]], int]:
    """Events of one agency whose ``field`` is exactly ``value``, newest first (a structured term query)."""
    body = {"size": size, "track_total_hits": True, "sort": [{"@timestamp": "desc"}, {"_id": "asc"}],
            "query": {"bool": {"filter": [{"term": {"organization.id": agency}}, {"term": {field: value}},
                                          {"range": {"@timestamp": {"gte": start, "lte": end}}}]}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True, allow_no_indices=True)
    hits = [h["_source"] | {"_id": h["_id"]} for h in resp["hits"]["hits"]]
    return hits, int(resp["hits"]["total"]["value"])


def source_activity(client: OpenSearch, names: Names, scope: list[dict[str, Any]], now: datetime,
                    day: timedelta) -> list[dict[str, Any]]:
    """Per log source over the last ``day``: agency, last event, events in the last hour, parse failures."""
    since = (now - day).isoformat()
    hour = (now - timedelta(hours=1)).isoformat()
    body = {"size": 0, "query": {"bool": {"filter": [*scope, {"range": {"event.ingested": {"gte": since}}}]}},
            "aggs": {"sources": {"terms": {"field": "log.source.id", "size": MAX_SOURCES, "missing": ""},
                                 "aggs": {"agency": {"terms": {"field": "organization.id", "size": 1}},
                                          "last": {"max": {"field": "event.ingested"}},
                                          "hour": {"filter": {"range": {"event.ingested": {"gte": hour}}}},
                                          "failed": {"filter": {"term": {"tags": PARSE_FAILURE_TAG}}}}}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True, allow_no_indices=True)
    out = []
    for b in resp.get("aggregations", {}).get("sources", {}).get("buckets", []):
        agencies = b["agency"]["buckets"]
        out.append({"id": b["key"], "agency": agencies[0]["key"] if agencies else None, "events": b["doc_count"],
                    "last": b["last"].get("value_as_string"), "hour": b["hour"]["doc_count"],
                    "failed": b["failed"]["doc_count"]})
    return out


def onboarded_sources(client: OpenSearch, names: Names, scope: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resp = client.search(index=names.sources, body={"size": MAX_SOURCES, "query": {"bool": {"filter": scope}}})
    return [h["_source"] | {"id": h["_source"].get("id") or h["_id"]} for h in resp["hits"]["hits"]]


def reports(client: OpenSearch, names: Names, scope: list[dict[str, Any]], size: int, offset: int
            ) -> tuple[list[dict[str, Any]], int]:
    body = {"size": size, "from": offset, "track_total_hits": True, "query": {"bool": {"filter": scope}},
            "sort": [{"created": "desc"}]}
    resp = client.search(index=names.reports, body=body)
    return [h["_source"] | {"id": h["_id"]} for h in resp["hits"]["hits"]], int(resp["hits"]["total"]["value"])


def report(client: OpenSearch, names: Names, report_id: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = client.get(index=names.reports, id=report_id)["_source"]
    except NotFoundError:
        return None
    return doc | {"id": report_id}
