"""Writing alerts (create-only, deterministic ids) and reading / counting exceptions in OpenSearch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.alerts.documents import AlertDoc
from soc.search import Names


def create_alerts(client: OpenSearch, names: Names, alerts: list[tuple[str, AlertDoc]]) -> tuple[int, int]:
    """Create alerts; an id that already exists is left alone (a re-run). Returns (created, existing).

    Raises when any other item failed, so that the caller does not advance its checkpoint.
    """
    if not alerts:
        return 0, 0
    created = existing = 0
    for start in range(0, len(alerts), 1000):
        chunk = alerts[start:start + 1000]
        ops: list[Any] = []
        for alert_id, doc in chunk:
            ops += [{"create": {"_index": names.alerts, "_id": alert_id}}, doc]
        resp = client.bulk(body=ops, refresh="wait_for")
        failures: list[str] = []
        for item in resp["items"]:
            result = item["create"]
            if result.get("status") == 409:
                existing += 1
            elif result.get("status", 500) >= 300:
                failures.append(str(result.get("error")))
            else:
                created += 1
        if failures:
            raise RuntimeError(f"{len(failures)} alerts could not be written: {failures[0]}")
    return created, existing


def active_exceptions(client: OpenSearch, names: Names, now: datetime) -> list[dict[str, Any]]:
    """Enabled exceptions that have not expired, each with its id under ``_id``."""
    body = {"size": 10000, "query": {"bool": {
        "filter": [{"term": {"enabled": True}}],
        "must_not": [{"range": {"expires": {"lte": now.isoformat()}}}]}}}
    resp = client.search(index=names.exceptions, body=body, ignore_unavailable=True)
    return [{"_id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]]


def count_exception_hits(client: OpenSearch, names: Names, hits: dict[str, int], when: str) -> None:
    for exc_id, count in hits.items():
        client.update(index=names.exceptions, id=exc_id, refresh=True, retry_on_conflict=5, body={"script": {
            "lang": "painless", "params": {"n": count, "when": when},
            "source": "ctx._source.hits = (ctx._source.hits == null ? 0 : ctx._source.hits) + params.n;"
                      "ctx._source.last_hit = params.when;"}})


def alerts_for_rule(client: OpenSearch, names: Names, rule_id: str, agency: str, group_key: str,
                    window_end_after: str) -> int:
    """How many alerts of a rule, agency and group have a window ending after the given time."""
    body = {"query": {"bool": {"filter": [
        {"term": {"rule.id": rule_id}}, {"term": {"organization.id": agency}}, {"term": {"group_key": group_key}},
        {"range": {"window.end": {"gt": window_end_after}}}]}}}
    resp = client.count(index=names.alerts, body=body, ignore_unavailable=True)
    return int(resp["count"])
