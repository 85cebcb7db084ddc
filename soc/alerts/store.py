"""Writing alerts (create-only, deterministic ids) and reading / counting exceptions in OpenSearch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.alerts.documents import AlertDoc
from soc.search import Names


def create_alerts(client: OpenSearch, names: Names, alerts: list[tuple[str, AlertDoc]],
                  chunk_size: int = 5000) -> tuple[int, int]:
    """Create alerts; an id that already exists is left alone (a re-run). Returns (created, existing).

    A detection cycle writes all its alerts through one call (one request below ``chunk_size``). The
    last request refreshes ``soc-alerts`` at once (no wait for the refresh interval), so grouping and
    the next cycle's correlation de-duplication see them. Raises when any other item failed, so that
    the caller does not advance its checkpoint.
    """
    if not alerts:
        return 0, 0
    created = existing = 0
    for start in range(0, len(alerts), chunk_size):
        chunk = alerts[start:start + chunk_size]
        ops: list[Any] = []
        for alert_id, doc in chunk:
            ops += [{"create": {"_index": names.alerts, "_id": alert_id}}, doc]
        resp = client.bulk(body=ops, refresh=start + chunk_size >= len(alerts))
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
    """Add a cycle's suppressed matches to each exception's counter (one request, only when some were)."""
    if not hits:
        return
    ops: list[dict[str, Any]] = []
    for exc_id, count in hits.items():
        ops += [{"update": {"_index": names.exceptions, "_id": exc_id, "retry_on_conflict": 5}},
                {"script": {"lang": "painless", "params": {"n": count, "when": when},
                            "source": "ctx._source.hits = (ctx._source.hits == null ? 0 : ctx._source.hits) + params.n;"
                                      "ctx._source.last_hit = params.when;"}}]
    client.bulk(body=ops, refresh=True)


def alerts_for_rule(client: OpenSearch, names: Names, rule_id: str, agency: str, group_key: str,
                    window_end_after: str) -> int:
    """How many alerts of a rule, agency and group have a window ending after the given time."""
    body = {"query": {"bool": {"filter": [
        {"term": {"rule.id": rule_id}}, {"term": {"organization.id": agency}}, {"term": {"group_key": group_key}},
        {"range": {"window.end": {"gt": window_end_after}}}]}}}
    resp = client.count(index=names.alerts, body=body, ignore_unavailable=True)
    return int(resp["count"])


def recent_correlation_groups(client: OpenSearch, names: Names, rule_id: str, window_end_after: str
                              ) -> set[tuple[str, str]]:
    """(agency, group key) of the alerts of a rule whose window ends after the given time: one request
    for every group a correlation evaluation found firing."""
    body = {"size": 0, "query": {"bool": {"filter": [
        {"term": {"rule.id": rule_id}}, {"range": {"window.end": {"gt": window_end_after}}}]}},
        "aggs": {"groups": {"composite": {"size": 10000, "sources": [
            {"org": {"terms": {"field": "organization.id"}}}, {"key": {"terms": {"field": "group_key"}}}]}}}}
    out: set[tuple[str, str]] = set()
    after: dict[str, Any] | None = None
    while True:
        if after:
            body["aggs"]["groups"]["composite"]["after"] = after  # type: ignore[index]
        agg = client.search(index=names.alerts, body=body, ignore_unavailable=True)["aggregations"]["groups"]
        out.update((str(b["key"]["org"]), str(b["key"]["key"])) for b in agg["buckets"])
        after = agg.get("after_key")
        if not after or not agg["buckets"]:
            return out
