"""Merge incidents into one, and un-merge them again, both audited.

Alerts never move: a merged incident keeps its alerts and is closed as a duplicate with
``merged_into`` set; the target lists it in ``merged_from``, takes over its grouping keys (new
alerts of those keys join the target) and recomputes its counts from the alerts of all of them.
Un-merge restores the source as it was and recomputes the target from what is left.
"""

from __future__ import annotations

from typing import Any

from soc.alerts.documents import SEVERITY_RANK
from soc.auth import Principal
from soc.errors import Invalid
from soc.incidents import model
from soc.incidents.service import IncidentService
from soc.incidents.store import Stored
from soc.runtime import Runtime

RESTORED = ("status", "resolution", "resolved_at", "closed_at", "ttr_seconds")


def _recompute(rt: Runtime, doc: dict[str, Any], severity_floor: int) -> dict[str, Any]:
    agg = rt.alerts.aggregate([doc["id"], *doc.get("merged_from", [])])
    doc = dict(doc)
    doc["alert_count"] = agg["alert_count"]
    if agg["alert_count"]:
        doc["first_seen"], doc["last_seen"] = agg["first_seen"], agg["last_seen"]
        doc["rule_ids"], doc["tags"], doc["entities"] = agg["rule_ids"], agg["tags"], agg["entities"]
        doc["fingerprints"] = agg["fingerprints"]
    counts, reasons = rt.alerts.outcomes([doc["id"], *doc.get("merged_from", [])])
    state = model.outcome_of(counts)  # recomputed from the alerts, like the severity they raise
    doc["outcome"], doc["outcome_reasons"] = state, reasons
    doc["outcome_counts"] = {k: v for k, v in sorted(counts.items()) if v}
    alert_rank = model.escalated(agg["severity_rank"]) if state == "compromise_likely" else agg["severity_rank"]
    rank = max(alert_rank, severity_floor)
    if rank:
        doc["severity"] = next(s for s, r in SEVERITY_RANK.items() if r == rank)
        doc["severity_rank"] = rank
    doc["updated"] = model.iso(rt.clock())
    return doc


def merge(rt: Runtime, who: Principal, target_id: str, source_ids: list[str]) -> Stored:
    who.require_writer()
    service = IncidentService(rt)
    target = service.get(who, target_id)
    sources = [service.get(who, s) for s in source_ids]
    _check(target, sources)
    now = model.iso(rt.clock())
    moved_keys: dict[str, list[str]] = {}
    for src in sources:
        moved_keys[src.doc["id"]] = [k for k in src.doc.get("keys", []) if k not in target.doc.get("keys", [])]

        def close(doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("merged_into") or doc.get("merged_from"):
                raise Invalid(f"incident {doc['id']} was merged or took merges meanwhile")
            saved = {k: doc.get(k) for k in RESTORED}
            history = [*doc.get("history", []), {"status": "closed", "at": now, "actor": who.name}]
            return doc | {"merged_into": target_id, "merge_state": saved, "status": "closed",
                          "resolution": "duplicate", "closed_at": now, "updated": now, "history": history}

        service.mutate(who, src.doc["id"], close, "incident.merged_into", {"target": target_id})

    def absorb(doc: dict[str, Any]) -> dict[str, Any]:
        merged = [*doc.get("merged_from", []), *[s.doc["id"] for s in sources]]
        keys = sorted(set(doc.get("keys", [])) | {k for ks in moved_keys.values() for k in ks})
        state = dict(doc.get("merge_state") or {})
        state["moved_keys"] = dict(state.get("moved_keys") or {}) | moved_keys
        floor = max([int(doc["severity_rank"])] + [int(s.doc["severity_rank"]) for s in sources])
        return _recompute(rt, doc | {"merged_from": merged, "keys": keys, "merge_state": state}, floor)

    return service.mutate(who, target_id, absorb, "incident.merge", {"sources": source_ids})


def unmerge(rt: Runtime, who: Principal, target_id: str, source_id: str) -> Stored:
    who.require_writer()
    service = IncidentService(rt)
    target = service.get(who, target_id)
    if source_id not in target.doc.get("merged_from", []):
        raise Invalid(f"incident {source_id} is not merged into {target_id}")

    def release(doc: dict[str, Any]) -> dict[str, Any]:
        state = dict(doc.get("merge_state") or {})
        moved = dict(state.get("moved_keys") or {})
        gone = set(moved.pop(source_id, []))
        state["moved_keys"] = moved
        merged = [m for m in doc.get("merged_from", []) if m != source_id]
        keys = [k for k in doc.get("keys", []) if k not in gone]
        return _recompute(rt, doc | {"merged_from": merged, "keys": keys, "merge_state": state}, 0)

    def restore(doc: dict[str, Any]) -> dict[str, Any]:
        saved = dict(doc.get("merge_state") or {})
        now = model.iso(rt.clock())
        history = [*doc.get("history", []), {"status": saved.get("status"), "at": now, "actor": who.name}]
        return doc | {k: saved.get(k) for k in RESTORED} | {"merged_into": None, "merge_state": {},
                                                              "updated": now, "history": history}

    stored = service.mutate(who, target_id, release, "incident.unmerge", {"source": source_id})
    service.mutate(who, source_id, restore, "incident.unmerged_from", {"target": target_id})
    return stored


def _check(target: Stored, sources: list[Stored]) -> None:
    tid = target.doc["id"]
    if not sources:
        raise Invalid("sources: name at least one incident to merge")
    if target.doc.get("merged_into"):
        raise Invalid(f"incident {tid} is itself merged into {target.doc['merged_into']}")
    seen = set()
    for src in sources:
        sid = src.doc["id"]
        if sid == tid or sid in seen:
            raise Invalid(f"sources: {sid} is named twice or is the target")
        seen.add(sid)
        if src.doc["organization"]["id"] != target.doc["organization"]["id"]:
            raise Invalid(f"incident {sid} belongs to another agency; only incidents of one agency merge")
        if src.doc.get("merged_into"):
            raise Invalid(f"incident {sid} is already merged into {src.doc['merged_into']}")
        if src.doc.get("merged_from"):
            raise Invalid(f"incident {sid} holds merged incidents; un-merge those first")
