"""Triage: read, list, change, comment and bulk-change incidents, scoped, audited and notified.

Every write names the version it read; a change made by a person with a stale version is refused
(409 with the current state). Changes the service makes on its own behalf (comments, bulk
actions, grouping, SLA flags) re-read and retry, so no update is ever lost.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from soc.alerts.documents import SEVERITY_RANK
from soc.audit import store as audit_store
from soc.auth import Principal
from soc.errors import Invalid, SocError
from soc.incidents import model, sla
from soc.incidents.store import Stale, Stored, Version
from soc.runtime import Runtime

RETRIES = 30
SORTS: dict[str, list[dict[str, str]]] = {
    "-last_seen": [{"last_seen": "desc"}, {"id": "desc"}], "last_seen": [{"last_seen": "asc"}, {"id": "asc"}],
    "-created": [{"created": "desc"}, {"id": "desc"}], "created": [{"created": "asc"}, {"id": "asc"}],
    "-severity": [{"severity_rank": "desc"}, {"last_seen": "desc"}, {"id": "desc"}],
    "severity": [{"severity_rank": "asc"}, {"last_seen": "asc"}, {"id": "asc"}],
    "-alert_count": [{"alert_count": "desc"}, {"id": "desc"}],
}
BULK_PATCHES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "acknowledge": lambda p: {"status": "acknowledged"},
    "start": lambda p: {"status": "in_progress"},
    "assign": lambda p: {"assignee": p.get("assignee")},
    "resolve": lambda p: {"status": "resolved", "resolution": p.get("resolution")},
    "close": lambda p: {"status": "closed"},
}


def encode_cursor(sort: str, values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, values]).encode()).decode().rstrip("=")


# What each listing's sort values are (dates and numbers come back as integers, keywords and index
# names as strings), so an altered cursor is refused here with a 400 instead of failing inside
# OpenSearch's search_after parsing.
CURSOR_VALUES: dict[str, tuple[type, ...]] = {
    "-last_seen": (int, str), "last_seen": (int, str), "-created": (int, str), "created": (int, str),
    "-severity": (int, int, str), "severity": (int, int, str), "-alert_count": (int, str),
    "audit": (int, int), "timeline": (int, int),  # @timestamp, _seq_no
    "alerts": (int, str), "exceptions": (int, str),  # first_seen / created, _id
    "context": (int, str, int),  # @timestamp, _index, _seq_no
}


def decode_cursor(sort: str, cursor: str) -> list[Any]:
    try:
        got_sort, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, TypeError):
        raise Invalid("cursor: not a cursor returned by this listing") from None
    kinds = CURSOR_VALUES.get(sort)
    if got_sort != sort or not isinstance(values, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values) or (
            kinds is not None and (len(values) != len(kinds)
                                   or not all(isinstance(v, k) for v, k in zip(values, kinds, strict=False)))):
        raise Invalid("cursor: it belongs to another sort order or was altered")
    return values


class IncidentService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.store = rt.incidents

    # reading -----------------------------------------------------------------------------------
    def get(self, who: Principal, incident_id: str) -> Stored:
        who.require_reader()
        stored = self.store.get(incident_id)
        who.require_visible(stored.doc["organization"]["id"], "incident", incident_id)
        return stored

    def query(self, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
        filters: list[dict[str, Any]] = list(who.scope_filter())
        for name, field in (("agency", "organization.id"), ("status", "status"), ("severity", "severity"),
                            ("assignee", "assignee"), ("rule", "rule_ids"), ("tag", "tags"), ("entity", "entities"),
                            ("outcome", "outcome")):
            value = f.get(name)
            if value:
                filters.append({"terms": {field: value if isinstance(value, list) else [value]}})
        span = {op: f[k].isoformat() for k, op in (("since", "gte"), ("until", "lte")) if f.get(k)}
        if span:
            filters.append({"range": {"last_seen": span}})
        if f.get("breached"):
            filters.append({"bool": {"should": [{"term": {"sla.ack_breached": True}},
                                                {"term": {"sla.resolve_breached": True}}]}})
        must: list[dict[str, Any]] = []
        if f.get("q"):
            must.append({"multi_match": {"query": f["q"], "fields": ["title", "comments.text", "entities", "tags"],
                                         "lenient": True}})
        must_not = [] if f.get("include_merged") else [{"exists": {"field": "merged_into"}}]
        return {"bool": {"filter": filters, "must": must, "must_not": must_not}}

    def search(self, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
        who.require_reader()
        sort_name = f.get("sort") or "-last_seen"
        after = decode_cursor(sort_name, f["cursor"]) if f.get("cursor") else None
        rows, total = self.store.search(self.query(who, f), SORTS[sort_name], f.get("limit", 50), after)
        cursor = encode_cursor(sort_name, rows[-1][0]) if len(rows) == f.get("limit", 50) else None
        return {"items": [s for _, s in rows], "next_cursor": cursor, "total": total}

    def metrics(self, who: Principal, f: dict[str, Any]) -> dict[str, Any]:
        who.require_reader()
        return self.store.metrics(self.query(who, f))

    def timeline(self, who: Principal, incident_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        self.get(who, incident_id)
        after = decode_cursor("timeline", cursor) if cursor else None
        rows = audit_store.search(self.rt.client, self.rt.names, [
            {"term": {"object_type": "incident"}}, {"term": {"object_id": incident_id}}], limit, after, ascending=True)
        nxt = encode_cursor("timeline", rows[-1][0]) if len(rows) == limit else None
        return {"items": [doc for _, doc in rows], "next_cursor": nxt}

    # changing ----------------------------------------------------------------------------------
    def patch(self, who: Principal, incident_id: str, version: Version, changes: dict[str, Any]) -> Stored:
        who.require_writer()
        current = self.get(who, incident_id)
        if current.version != version:
            raise stale(current, f"incident {incident_id} changed since version {version}")
        now = self.rt.clock()
        new = model.apply_patch(current.doc, changes, who.name, now)
        try:
            return self._write(who, current, new, "incident.update", now)
        except Stale:
            raise stale(self.store.get(incident_id), f"incident {incident_id} changed meanwhile") from None

    def comment(self, who: Principal, incident_id: str, text: str) -> Stored:
        who.require_writer()
        self.get(who, incident_id)
        entry = {"id": uuid.uuid4().hex[:16], "at": model.iso(self.rt.clock()), "author": who.name, "text": text}

        def add(doc: dict[str, Any]) -> dict[str, Any]:
            if len(doc.get("comments", [])) >= model.MAX_COMMENT_COUNT:
                raise Invalid(f"an incident holds at most {model.MAX_COMMENT_COUNT} comments")
            return doc | {"comments": [*doc.get("comments", []), entry], "updated": entry["at"]}

        return self.mutate(who, incident_id, add, "incident.comment", {"comment": entry})

    def bulk(self, who: Principal, ids: list[str], action: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Check every item first; apply only when all are acceptable (nothing partially applied)."""
        who.require_writer()
        if len(set(ids)) != len(ids):
            raise Invalid("ids: the same incident is named twice")
        patch = {k: v for k, v in BULK_PATCHES[action](params).items() if v is not None or k == "assignee"}
        found = self.store.mget(ids)
        now = self.rt.clock()
        problems = []
        for incident_id in ids:
            stored = found.get(incident_id)
            if stored is None or not who.sees(stored.doc["organization"]["id"]):
                problems.append(f"{incident_id}: does not exist")
                continue
            try:
                model.apply_patch(stored.doc, patch, who.name, now)
            except SocError as exc:
                problems.append(f"{incident_id}: {exc}")
        if problems:
            raise Invalid("nothing was changed: " + "; ".join(problems))
        results = []
        for incident_id in ids:
            try:
                stored = self.mutate(who, incident_id, lambda d: model.apply_patch(d, patch, who.name,
                                                                                    self.rt.clock()),
                                     f"incident.bulk.{action}")
                results.append({"id": incident_id, "ok": True, "version": str(stored.version), "error": None})
            except SocError as exc:  # changed by someone else into a state the action no longer fits
                results.append({"id": incident_id, "ok": False, "version": None, "error": str(exc)})
        return results

    def check_sla(self) -> int:
        """Flag and notify breaches that have come due; returns how many incidents were flagged."""
        flagged = 0
        for _ in range(100):
            self.store.refresh()
            ids = self.store.ids_matching(sla.breach_candidates(self.rt.clock()), 500)
            if not ids:
                break
            for incident_id in ids:
                self.mutate(SYSTEM, incident_id, lambda d: d, "incident.sla_check")
                flagged += 1
        return flagged

    # writing with audit and notifications --------------------------------------------------------
    def mutate(self, who: Principal, incident_id: str, change: Callable[[dict[str, Any]], dict[str, Any]],
               action: str, details: dict[str, Any] | None = None, shown: bool = True) -> Stored:
        """Read, change, write with the version read; on a concurrent write, read again and redo.
        ``shown`` False: no page waits to show the change (background work), so its audit entry is not
        waited for until searchable."""
        for _ in range(RETRIES):
            current = self.store.get(incident_id)
            new = change(dict(current.doc))
            try:
                return self._write(who, current, new, action, self.rt.clock(), details, shown)
            except Stale:
                continue
        raise stale(self.store.get(incident_id), f"incident {incident_id} is changing too often; try again")

    def change_many(self, who: Principal, changes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
                    action: str, details: dict[str, dict[str, Any]]) -> set[str]:
        """``mutate`` for many incidents at once, for background work (no page waits for the audit
        entries): read them in one request, write those that changed in one (each with the version
        read), audit them in one more. Returns the ids not written, because they changed meanwhile or
        do not exist: the caller redoes those one by one with ``mutate``."""
        current = self.store.mget(sorted(changes))
        now = self.rt.clock()
        redo = {i for i in changes if i not in current}
        planned: list[tuple[Stored, dict[str, Any], list[str]]] = []
        for incident_id, stored in current.items():
            new, breaches = self._prepared(stored.doc, changes[incident_id](dict(stored.doc)), now)
            if new != stored.doc:
                planned.append((stored, new, breaches))
        written = self.store.replace_many([(new, stored.version) for stored, new, _ in planned])
        done = [(stored, new, breaches) for stored, new, breaches in planned if new["id"] in written]
        redo |= {new["id"] for _, new, _ in planned if new["id"] not in written}
        audit_store.append(self.rt.client, self.rt.names, [
            e for stored, new, breaches in done
            for e in self._entries(who, stored.doc, new, action, now, details.get(new["id"]), breaches)])
        for stored, new, breaches in done:
            self._publish(stored.doc, new, breaches)
        return redo

    def _prepared(self, old: dict[str, Any], new: dict[str, Any], now: datetime) -> tuple[dict[str, Any], list[str]]:
        """The changed document with its SLA dues (set again when the severity changed), and the SLA
        targets it now misses."""
        new = dict(new)
        new["sla"] = dict(new.get("sla") or {})
        if new.get("severity") != old.get("severity") or not new["sla"]:
            sla.set_dues(new, self.rt.sla)
        return new, list(sla.evaluate(new, now))

    @staticmethod
    def _entries(who: Principal, old: dict[str, Any], new: dict[str, Any], action: str, now: datetime,
                 details: dict[str, Any] | None, breaches: list[str]) -> list[dict[str, Any]]:
        before, after = audit_store.changed(model.summary(old), model.summary(new))
        entries = [audit_store.entry(now, who.name, action, "incident", new["id"], new["organization"]["id"],
                                     _describe(action, before, after), before=before, after=after,
                                     **(details or {}))]
        entries += [audit_store.entry(now, "sla", "incident.sla_breach", "incident", new["id"],
                                      new["organization"]["id"], f"{kind} target missed", kind=kind)
                    for kind in breaches]
        return entries

    def _publish(self, old: dict[str, Any], new: dict[str, Any], breaches: list[str]) -> None:
        if SEVERITY_RANK[new["severity"]] > SEVERITY_RANK[old["severity"]]:
            # one notification per case and escalation; a likely compromise says why
            why = {"outcome": new["outcome"], "reasons": new.get("outcome_reasons", [])} \
                if new.get("outcome") == "compromise_likely" and old.get("outcome") != "compromise_likely" else {}
            self.rt.publish("incident.escalated", new, previous_severity=old["severity"], **why)
        for kind in breaches:
            self.rt.publish("incident.sla_breach", new, breach=kind)

    def _write(self, who: Principal, current: Stored, new: dict[str, Any], action: str, now: datetime,
               details: dict[str, Any] | None = None, shown: bool = True) -> Stored:
        old = current.doc
        new, breaches = self._prepared(old, new, now)
        if new == old:
            return current
        version = self.store.replace(new, current.version)
        # wait_for: the incident page shown after the change lists it in its timeline (read by search).
        # Not for background work: grouping folds hundreds of incidents a run under load, and waiting
        # for the audit index's refresh each time made one run last 80 s (BENCHMARKS.md, detection).
        audit_store.append(self.rt.client, self.rt.names, self._entries(who, old, new, action, now, details, breaches),
                           refresh="wait_for" if shown else False)
        self._publish(old, new, breaches)
        return Stored(new, version)


SYSTEM = Principal("system", "admin", ("*",))


def stale(current: Stored, message: str) -> Stale:
    exc = Stale(message)
    exc.current = {"incident": current.doc, "version": str(current.version)}  # type: ignore[attr-defined]
    return exc


def _describe(action: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = [f"{k}: {before.get(k)} -> {after.get(k)}" for k in after]
    return f"{action} " + ", ".join(parts) if parts else action
