"""The console's own reads and writes in OpenSearch: sessions, preferences and the pivot search over the log streams.

Sessions and preferences live in ``soc-users`` beside users and tokens, as documents of their own
kind: ``session-<first 40 hex of the SHA-256 of the cookie value>`` ``{kind: "session", name, user,
token_id, csrf, lang, flash, created, expires}`` and ``pref-<user>`` ``{kind: "preference", name,
lang}``. Only the hash of a session's cookie value is stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.search import LOG_STREAMS, Names


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


def purge_sessions(client: OpenSearch, names: Names, now: datetime) -> int:
    """Delete the sessions that expired before ``now`` (they no longer log anyone in, but stayed
    stored); returns how many."""
    resp = client.delete_by_query(index=names.users, refresh=True, conflicts="proceed", body={"query": {"bool": {
        "filter": [{"term": {"kind": "session"}}, {"range": {"expires": {"lt": now.isoformat()}}}]}}})
    return int(resp.get("deleted", 0))


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


def _streams(names: Names) -> str:
    return ",".join(names(s) for s in LOG_STREAMS)


def events_of(client: OpenSearch, names: Names, agency: str, field: str, value: str, start: str, end: str,
              size: int) -> tuple[list[dict[str, Any]], int]:
    """Events of one agency whose ``field`` is exactly ``value``, newest first (a structured term query)."""
    body = {"size": size, "track_total_hits": True,
            "sort": [{"@timestamp": "desc"}, {"_index": "asc"}, {"_seq_no": "asc"}],
            "query": {"bool": {"filter": [{"term": {"organization.id": agency}}, {"term": {field: value}},
                                          {"range": {"@timestamp": {"gte": start, "lte": end}}}]}}}
    resp = client.search(index=_streams(names), body=body, ignore_unavailable=True, allow_no_indices=True)
    hits = [h["_source"] | {"_id": h["_id"]} for h in resp["hits"]["hits"]]
    return hits, int(resp["hits"]["total"]["value"])
