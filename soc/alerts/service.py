"""Reading alerts for the API, scoped to the caller's agencies."""

from __future__ import annotations

from typing import Any

from soc.auth import Principal
from soc.incidents.service import decode_cursor, encode_cursor
from soc.runtime import Runtime


def get(rt: Runtime, who: Principal, alert_id: str) -> dict[str, Any]:
    who.require_reader()
    alert = rt.alerts.get(alert_id)
    who.require_visible((alert.get("organization") or {}).get("id"), "alert", alert_id)
    return alert


def search(rt: Runtime, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
    who.require_reader()
    filters = list(who.scope_filter())
    for name, field in (("agency", "organization.id"), ("rule", "rule.id"), ("severity", "severity"),
                        ("incident_id", "incident_id")):
        if f.get(name):
            filters.append({"terms": {field: f[name] if isinstance(f[name], list) else [f[name]]}})
    if f.get("ungrouped"):
        filters.append({"bool": {"must_not": [{"exists": {"field": "incident_id"}}]}})
    after = decode_cursor("alerts", f["cursor"]) if f.get("cursor") else None
    limit = f.get("limit", 50)
    rows = rt.alerts.search(filters, limit, after)
    nxt = encode_cursor("alerts", rows[-1][0]) if len(rows) == limit else None
    return {"items": [a for _, a in rows], "next_cursor": nxt}
