"""Reading the audit trail, scoped to the caller's agencies."""

from __future__ import annotations

from typing import Any

from soc.audit import store as audit_store
from soc.auth import Principal
from soc.incidents.service import decode_cursor, encode_cursor
from soc.runtime import Runtime


def read_audit(rt: Runtime, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
    """Admins read the trail; an admin of some agencies sees entries of those agencies only."""
    who.require_admin()

    filters: list[dict[str, Any]] = list(who.scope_filter())
    for name, field in (("actor", "actor"), ("action", "action"), ("object_type", "object_type"),
                        ("object_id", "object_id"), ("agency", "organization.id")):
        if f.get(name):
            filters.append({"term": {field: f[name]}})
    span = {op: f[k].isoformat() for k, op in (("since", "gte"), ("until", "lte")) if f.get(k)}
    if span:
        filters.append({"range": {"@timestamp": span}})
    after = decode_cursor("audit", f["cursor"]) if f.get("cursor") else None
    limit = f.get("limit", 100)
    rows = audit_store.search(rt.client, rt.names, filters, limit, after)
    nxt = encode_cursor("audit", rows[-1][0]) if len(rows) == limit else None
    return {"items": [d for _, d in rows], "next_cursor": nxt}
