"""Writing alerts (create-only, deterministic ids) and reading them for detection in OpenSearch."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc.alerts.documents import AlertDoc
from soc.search import Names


def create_alerts(client: OpenSearch, names: Names, alerts: list[tuple[str, AlertDoc]],
                  chunk_size: int = 5000, updates: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[int, int]:
    """Create alerts; an id that already exists is left alone (a re-run). Returns (created, existing).

    ``updates`` (alert id, partial document) extend reported correlation episodes in the same requests.
    A detection cycle writes all its alerts through one call (one request below ``chunk_size``). The
    last request refreshes ``soc-alerts`` at once (no wait for the refresh interval), so grouping and
    the next cycle's correlation merging see them. Raises when any other item failed, so that the
    caller does not advance its checkpoint.
    """
    ops: list[Any] = []
    for alert_id, doc in alerts:
        ops.append(({"create": {"_index": names.alerts, "_id": alert_id}}, doc))
    for alert_id, part in updates or []:
        ops.append(({"update": {"_index": names.alerts, "_id": alert_id, "retry_on_conflict": 5}}, {"doc": part}))
    if not ops:
        return 0, 0
    created = existing = 0
    for start in range(0, len(ops), chunk_size):
        body = [line for pair in ops[start:start + chunk_size] for line in pair]
        resp = client.bulk(body=body, refresh=start + chunk_size >= len(ops))
        failures: list[str] = []
        for item in resp["items"]:
            op, result = next(iter(item.items()))
            if op == "create" and result.get("status") == 409:
                existing += 1
            elif result.get("status", 500) >= 300:
                failures.append(str(result.get("error")))
            elif op == "create":
                created += 1
        if failures:
            raise RuntimeError(f"{len(failures)} alerts could not be written: {failures[0]}")
    return created, existing


def correlation_alerts(client: OpenSearch, names: Names, rule_id: str, group_keys: list[str], agencies: list[str],
                       start: str, end: str) -> list[dict[str, Any]]:
    """The live (not superseded) alerts of a correlation rule for some groups whose episode overlaps
    [start, end] in event time."""
    body = {"size": 10000, "_source": ["organization.id", "group_key", "first_seen", "last_seen", "events"],
            "query": {"bool": {"filter": [
                {"term": {"rule.id": rule_id}}, {"terms": {"group_key": group_keys}},
                {"terms": {"organization.id": agencies}},
                {"range": {"last_seen": {"gte": start}}}, {"range": {"first_seen": {"lte": end}}}],
                "must_not": [{"exists": {"field": "superseded_by"}}]}}}
    resp = client.search(index=names.alerts, body=body, ignore_unavailable=True)
    hits: list[dict[str, Any]] = resp["hits"]["hits"]
    return hits


def hits_by_rule(client: OpenSearch, names: Names, agencies: list[str]) -> dict[str, int]:
    """Alerts per rule id within ``agencies`` (what an agency-scoped reader may count)."""
    body = {"size": 0, "query": {"bool": {"filter": [{"terms": {"organization.id": agencies}}]}},
            "aggs": {"rules": {"terms": {"field": "rule.id", "size": 10_000}}}}
    resp = client.search(index=names.alerts, body=body, ignore_unavailable=True)
    buckets = ((resp.get("aggregations") or {}).get("rules") or {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}
