"""The incidents benchmark's data: incidents of 41 agencies (two thirds open) and their alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch, helpers

from soc import search
from soc.config import Settings
from soc.incidents import model, sla

AGENCIES = [f"agency-{i:02d}" for i in range(41)]
SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["new", "new", "acknowledged", "in_progress", "resolved", "closed"]


def _incidents(n: int, t0: datetime) -> Iterator[dict[str, Any]]:
    policy = sla.SlaPolicy()
    for i in range(n):
        at = t0 + timedelta(seconds=i * 7)
        alert = {"rule": {"id": f"rule-{i % 60}", "name": f"Rule {i % 60}"}, "severity": SEVERITIES[i % 4],
                 "organization": {"id": AGENCIES[i % 41]}, "group_key": f"source.ip=10.{i % 250}.{i % 199}.1",
                 "first_seen": at.isoformat(), "last_seen": at.isoformat()}
        doc = model.new_incident(f"inc{i:08d}", model.group_key(alert), alert, at)
        doc["status"] = STATUSES[(i // 41) % len(STATUSES)]
        doc["alert_count"] = 10
        sla.set_dues(doc, policy)
        yield {"_id": doc["id"], "_source": doc}


def _alerts(n: int, incidents: int, t0: datetime) -> Iterator[dict[str, Any]]:
    for i in range(n):
        at = (t0 + timedelta(seconds=i)).isoformat()
        yield {"_id": f"al{i:09d}", "_source": {
            "kind": "match", "created": at, "@timestamp": at, "first_seen": at, "last_seen": at,
            "rule": {"id": f"rule-{i % 60}", "name": "r", "level": "medium", "author": "bench", "tags": []},
            "severity": "medium", "severity_rank": 3, "organization": {"id": AGENCIES[i % 41]},
            "group_key": f"source.ip=10.{i % 250}.{i % 199}.1", "incident_id": f"inc{i % incidents:08d}",
            "grouped": True, "events": [], "event_count": 1, "summary": "bench"}}


def load(client: OpenSearch, settings: Settings, incidents: int, alerts: int) -> None:
    names = search.names(settings)
    t0 = datetime.now(UTC) - timedelta(days=30)
    loading = {"index": {"refresh_interval": "-1", "translog.durability": "async"}}
    serving = {"index": {"refresh_interval": "1s", "translog.durability": "request"}}
    for index, gen in ((names.incidents, _incidents(incidents, t0)), (names.alerts, _alerts(alerts, incidents, t0))):
        client.indices.put_settings(index=index, body=loading)
        docs = ({**d, "_index": index} for d in gen)
        for ok, item in helpers.parallel_bulk(client, docs, chunk_size=5000, thread_count=2, queue_size=4):
            if not ok:
                raise RuntimeError(item)
        client.indices.put_settings(index=index, body=serving)
        client.indices.refresh(index=index)
        client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=600)
