"""Governed suppression rules: created from an incident with an owner, a reason and an expiry; audited.

Detection applies the active ones (soc.suppressions.match) and counts what each suppressed.
Audit entries keep the words the trail has always used (``exception.create``..., object type
``exception``), and so do list cursors: both are stored or handed out.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from soc import ecs
from soc.audit import store as audit_store
from soc.auth import ALL_AGENCIES, Principal
from soc.errors import Invalid
from soc.incidents import model
from soc.incidents.service import IncidentService, decode_cursor, encode_cursor
from soc.runtime import Runtime
from soc.suppressions.store import SuppressionStore

MAX_LIFETIME = timedelta(days=366)
CURSOR = "exceptions"


def check_condition(cond: dict[str, Any]) -> None:
    if cond["field"] not in ecs.FIELDS:
        raise Invalid(f"conditions: {cond['field']!r} is not an event field")
    if cond["op"] == "cidr":
        try:
            ipaddress.ip_network(cond["value"], strict=False)
        except ValueError:
            raise Invalid(f"conditions: {cond['value']!r} is not an address range") from None


class SuppressionService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.store = SuppressionStore(rt.client, rt.names)

    def _audit(self, who: Principal, action: str, doc: dict[str, Any], before: dict[str, Any],
               after: dict[str, Any]) -> None:
        audit_store.append(self.rt.client, self.rt.names, [audit_store.entry(
            self.rt.clock(), who.name, action, "exception", doc["id"], doc["organization"]["id"],
            f"{action} for rule {doc['rule_id']}", before=before, after=after)])

    def create_from_incident(self, who: Principal, incident_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        who.require_writer()
        incident = IncidentService(self.rt).get(who, incident_id).doc
        if spec["rule_id"] not in incident["rule_ids"]:
            raise Invalid(f"rule_id: rule {spec['rule_id']} did not raise alerts in incident {incident_id}")
        for cond in spec["conditions"]:
            check_condition(cond)
        now = self.rt.clock()
        expires = spec["expires"]
        if expires <= now or expires - now > MAX_LIFETIME:
            raise Invalid("expires: must be in the future and at most a year away")
        # Scoped to the incident's agency; only an admin of every agency may make it apply to all.
        scope = spec.get("scope") or "agency"
        if scope == "all":
            who.require_admin(global_scope=True)
        elif scope != "agency":
            raise Invalid(f"scope: {scope!r} is not agency or all")
        agency = ALL_AGENCIES if scope == "all" else incident["organization"]["id"]
        doc = {"rule_id": spec["rule_id"], "organization": {"id": agency},
               "conditions": spec["conditions"], "enabled": True, "expires": model.iso(expires),
               "owner": spec["owner"], "reason": spec["reason"], "incident_id": incident_id, "hits": 0,
               "last_hit": None, "created": model.iso(now), "updated": model.iso(now), "created_by": who.name}
        created = self.store.create(doc)
        self._audit(who, "exception.create", created, {}, {k: v for k, v in doc.items() if k != "conditions"})
        return created

    def get(self, who: Principal, rule_id: str) -> dict[str, Any]:
        who.require_reader()
        doc = self.store.get(rule_id)
        agency = doc["organization"]["id"]
        if agency != ALL_AGENCIES:
            who.require_visible(agency, "exception", rule_id)
        return doc

    def search(self, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
        who.require_reader()
        filters: list[dict[str, Any]] = []
        if not who.everywhere:
            filters.append({"terms": {"organization.id": [*who.agencies, ALL_AGENCIES]}})
        for name, field in (("rule_id", "rule_id"), ("agency", "organization.id"), ("incident_id", "incident_id")):
            if f.get(name):
                filters.append({"term": {field: f[name]}})
        if f.get("active") is not None:
            active = {"bool": {"filter": [{"term": {"enabled": True}},
                                          {"range": {"expires": {"gt": model.iso(self.rt.clock())}}}]}}
            filters.append(active if f["active"] else {"bool": {"must_not": [active]}})
        after = decode_cursor(CURSOR, f["cursor"]) if f.get("cursor") else None
        limit = f.get("limit", 50)
        rows = self.store.search(filters, limit, after)
        nxt = encode_cursor(CURSOR, rows[-1][0]) if len(rows) == limit else None
        return {"items": [d for _, d in rows], "next_cursor": nxt}

    def expire(self, who: Principal, rule_id: str) -> dict[str, Any]:
        who.require_writer()
        doc = self.get(who, rule_id)
        if doc["organization"]["id"] == ALL_AGENCIES:
            who.require_admin(global_scope=True)
        now = model.iso(self.rt.clock())
        changes = {"enabled": False, "expires": now, "updated": now}
        self.store.update(rule_id, changes)
        self._audit(who, "exception.expire", doc, {k: doc.get(k) for k in changes}, changes)
        return doc | changes

    def delete(self, who: Principal, rule_id: str) -> None:
        who.require_writer()
        doc = self.get(who, rule_id)
        if doc["organization"]["id"] == ALL_AGENCIES:
            who.require_admin(global_scope=True)
        self.store.delete(rule_id)
        self._audit(who, "exception.delete", doc, {k: v for k, v in doc.items() if k != "conditions"}, {})
