"""The console's pivot search over the log streams (sessions and preferences are soc.accounts.store's)."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc.search import LOG_STREAMS, Names


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
