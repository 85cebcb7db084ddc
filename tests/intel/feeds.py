"""Feed files and events the intel tests write (made here; addresses from documentation ranges)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from soc import search
from soc.auth import Principal
from soc.config import Settings
from soc.detection import runner, store
from soc.detection.settings import DetectionSettings

ADMIN = Principal("tests", "admin", ("*",))
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def stix_bundle(*patterns: str, **extra: Any) -> str:
    objects = [{"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern": p,
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "confidence": 80, **extra}
               for p in patterns]
    objects.append({"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}", "name": "CERT"})
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})


def misp_event(*attributes: tuple[str, str]) -> str:
    return json.dumps({"Event": {"uuid": str(uuid.uuid4()), "info": "phishing wave", "threat_level_id": "1",
                                 "Attribute": [{"type": t, "value": v, "uuid": str(uuid.uuid4()), "to_ids": True,
                                                "category": "Network activity"} for t, v in attributes]}})


def web_event(fields: dict[str, Any], agency: str = "so-tttt", when: datetime | None = None) -> dict[str, Any]:
    """A web access event with the given ECS fields (flat names: {"source.ip": ...})."""
    at = when or datetime.now(UTC)
    doc: dict[str, Any] = {"@timestamp": store.iso(at), "organization": {"id": agency},
                           "event": {"dataset": "nginx.access", "original": f"GET / {uuid.uuid4().hex}"}}
    for key, value in fields.items():
        *parents, leaf = key.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


def write(settings: Settings, events: list[dict[str, Any]]) -> None:
    store.index_events(search.client(settings), search.names(settings), events)


def cycle(settings: Settings) -> runner.CycleReport:
    """One detection cycle with no Sigma rule (only the threat-intelligence matching runs)."""
    return runner.run_cycle(settings, DetectionSettings(settle_s=0, recheck_s=0, first_lookback_s=86400 * 60,
                                                      max_window_s=86400 * 61), [])


def intel_alerts(settings: Settings) -> list[dict[str, Any]]:
    client, names = search.client(settings), search.names(settings)
    client.indices.refresh(index=names.alerts)
    body = {"size": 1000, "query": {"prefix": {"rule.id": "intel:"}}}
    return [h["_source"] | {"_id": h["_id"]} for h in client.search(index=names.alerts, body=body)["hits"]["hits"]]


def ago(**kw: float) -> datetime:
    return datetime.now(UTC) - timedelta(**kw)
