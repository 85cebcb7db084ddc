"""Grouping: each alert without an incident joins the open incident of its key, or opens one.

The key comes from the policy (``soc.incidents.policy``): by default agency + attacking entity, so
one case collects every rule an attacker triggers; rule + agency + entity for rules kept
rule-centred and for alerts that name no attacker. An alert joins when it was seen within its
window (default one hour) of the incident's last alert; otherwise it opens a new incident whose id
is derived from the key and its first alert, so a repeated run names the same one. An attacker's
first alerts after an upgrade join the open rule-centred incident of the same rule and entity, if
there is one, which then takes the attacker key too.

A batch goes through three steps, each safe to repeat:

1. claim: each alert gets ``incident_id`` and ``grouped: false``, written with the version it was
   read at, so two grouping runs never plan the same alert into two incidents;
2. write: each incident is created, or updated with optimistic concurrency (analysts' changes made
   at the same moment are kept). Folding alerts in (seen times, escalating severity, tags, rules,
   entities) is idempotent, and ``alert_count`` is never incremented: it is counted from the
   alerts that carry the incident's id (and those of incidents merged into it), after the claim;
3. confirm: the alerts get ``grouped: true``.

If the process stops anywhere in between, the alerts still marked ``grouped: false`` come back
as pending: the next run writes (or creates) the incident they name and confirms them; if the
claim itself was cut off half way, the alerts not claimed yet join the incident the claimed ones
name (not a second one for the same key). Re-doing
a write that had already happened changes nothing, so no alert is lost or counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soc.alerts.store import PendingAlert
from soc.audit import store as audit_store
from soc.auth import Principal
from soc.detection import store
from soc.incidents import model, outcome, policy, sla
from soc.incidents.service import IncidentService
from soc.incidents.store import Stored
from soc.runtime import Runtime

GROUPER = Principal("grouping", "admin", ("*",))
StepHook = Callable[[str], None]
# Test seam: called with each step's name between steps ("claimed", "written" after each incident,
# "confirmed"). None in production; a test fixture sets it to raise, to stop a run where a crash would.
step_hook: StepHook | None = None


@dataclass
class Plan:
    incident_id: str
    key: str
    existing: bool
    last_seen: str
    alerts: list[PendingAlert] = field(default_factory=list)


@dataclass
class Work:
    """The alerts one incident must take in this batch (newly claimed, or left half-done earlier)."""

    key: str
    existing: bool
    alerts: list[PendingAlert] = field(default_factory=list)


@dataclass
class GroupingResult:
    alerts: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def plan(rt: Runtime, pending: list[PendingAlert], unfinished: dict[str, Plan] | None = None) -> list[Plan]:
    """Assign alerts to incidents. ``unfinished``: per key, the newest incident that half-done work
    names (it may not exist yet); alerts of that key join it like an open incident."""
    by_key: dict[str, list[PendingAlert]] = defaultdict(list)
    for alert in pending:
        by_key[rt.grouping.key(alert.doc)].append(alert)
    # an attacker key may continue an open incident of the rule-centred keys its alerts had
    legacy = {key: sorted({policy.rule_key(a.doc) for a in alerts}) for key, alerts in by_key.items()
              if policy.is_attacker_key(key)}
    open_now = rt.incidents.open_by_keys(sorted(set(by_key) | {k for ks in legacy.values() for k in ks}))
    plans: list[Plan] = []
    for key, alerts in by_key.items():
        alerts.sort(key=lambda a: (model.parse_time(a.doc["first_seen"]), a.id))
        found = open_now.get(key) or _newest([open_now[k] for k in legacy.get(key, []) if k in open_now])
        cur = Plan(found.doc["id"], key, True, found.doc["last_seen"]) if found else None
        half = (unfinished or {}).get(key)
        if half is not None and (cur is None or model.parse_time(half.last_seen) > model.parse_time(cur.last_seen)):
            cur = Plan(half.incident_id, key, False, half.last_seen)
        for alert in alerts:
            window = rt.grouping.window_for(alert.doc)
            if cur is None or model.parse_time(alert.doc["first_seen"]) > model.parse_time(cur.last_seen) + window:
                cur = Plan(model.incident_id_for(key, alert.id), key, False, alert.doc["last_seen"])
                plans.append(cur)
            elif not cur.alerts:
                plans.append(cur)
            cur.alerts.append(alert)
            cur.last_seen = max(cur.last_seen, alert.doc["last_seen"], key=model.parse_time)
    return plans


def _newest(found: list[Stored]) -> Stored | None:
    return max(found, key=lambda s: model.parse_time(s.doc["last_seen"]), default=None)


LEASE_ID = "lease:grouping"


def run_exclusive(rt: Runtime, owner: str, lease_s: float = 120.0, **kwargs: Any) -> GroupingResult | None:
    """``run`` under a lease that one service process at a time holds (None: another holds it).

    Claims keep two concurrent runs from putting one alert into two incidents, but two runs that
    each claim a *different* new alert of the same key would each open an incident for it; with
    every process's scheduler grouping after its detection cycle, the lease makes the runs take
    turns. A process that stops holding it is replaced once the lease (longer than a run) expires.
    """
    held = _take_lease(rt, owner, lease_s)
    if held is None:
        return None
    try:
        return run(rt, **kwargs)
    finally:
        store.conditional_writes(rt.client, rt.names, [(LEASE_ID, _lease_doc(owner, None, 0), held)])


def _lease_doc(owner: str, holder: str | None, until_ms: int) -> dict[str, Any]:
    return {"job": "grouping", "owner": holder, "lease_until_ms": until_ms, "last_owner": owner,
            "updated": store.iso(datetime.now(UTC))}


def _take_lease(rt: Runtime, owner: str, lease_s: float) -> tuple[int, int] | None:
    now_ms = int(store.node_now(rt.client).timestamp() * 1000)  # one clock for every process: the node's
    current = store.get_docs(rt.client, rt.names, [LEASE_ID]).get(LEASE_ID)
    version: tuple[int, int] | None = None
    if current is not None:
        src = current["_source"]
        if src.get("owner") not in (None, owner) and int(src.get("lease_until_ms") or 0) > now_ms:
            return None
        version = (int(current["_seq_no"]), int(current["_primary_term"]))
    doc = _lease_doc(owner, owner, now_ms + int(lease_s * 1000))
    return store.conditional_writes(rt.client, rt.names, [(LEASE_ID, doc, version)]).get(LEASE_ID)


def run(rt: Runtime, batch: int = 500, max_batches: int = 200) -> GroupingResult:
    """Group every alert that has no incident yet (and repair half-done work); safe to run from
    several processes at once and to re-run after a crash."""
    result = GroupingResult()
    service = IncidentService(rt)
    rt.incidents.refresh()
    for _ in range(max_batches):
        pending = rt.alerts.pending(batch)
        if not pending:
            break
        work = claim(rt, pending)
        _step("claimed")
        done: list[str] = []
        # Counts and outcomes of every incident of the batch in one search; the new incidents created,
        # and the others changed, each in one request and audited in one more: per incident requests
        # made a run under load last minutes (BENCHMARKS.md, detection).
        tallies = rt.alerts.tallies(sorted(work))
        made = _create_all(rt, {i: w for i, w in work.items() if not w.existing}, tallies)
        folds = {i: w for i, w in work.items() if i not in made}
        redo = service.change_many(GROUPER, {i: _folder(rt, w.key, w.alerts, tallies) for i, w in folds.items()},
                                   "incident.alerts_added", {i: _details(w) for i, w in folds.items()})
        for incident_id in sorted(redo):  # changed meanwhile (an analyst), or not there yet: one by one
            _fold(rt, service, incident_id, folds[incident_id], tallies)
        for incident_id, w in work.items():
            (result.created if incident_id in made else result.updated).append(incident_id)
            result.alerts += len(w.alerts)
            done.extend(a.id for a in w.alerts)
            _step("written")
        rt.alerts.confirm(done)
        _step("confirmed")
        rt.incidents.refresh()
    return result


def _step(name: str) -> None:
    if step_hook is not None:
        step_hook(name)


def claim(rt: Runtime, pending: list[PendingAlert]) -> dict[str, Work]:
    """Step 1: plan the new alerts and claim them; add the alerts an earlier run left half-done."""
    fresh = [a for a in pending if not a.doc.get("incident_id")]
    unfinished: dict[str, Plan] = {}
    for alert in pending:
        if alert.doc.get("incident_id"):
            key = rt.grouping.key(alert.doc)
            known = unfinished.get(key)
            if known is None or model.parse_time(alert.doc["last_seen"]) > model.parse_time(known.last_seen):
                unfinished[key] = Plan(alert.doc["incident_id"], key, False, alert.doc["last_seen"])
    plans = plan(rt, fresh, unfinished)
    outcome.Judge(rt).judge(fresh)  # written with the claim, so a repeated run keeps the first judgement
    claimed = rt.alerts.claim([(a, p.incident_id) for p in plans for a in p.alerts], refresh=True)
    work: dict[str, Work] = {}
    for p in plans:
        taken = [a for a in p.alerts if a.id in claimed]
        if taken:
            work.setdefault(p.incident_id, Work(p.key, p.existing)).alerts.extend(taken)
    for alert in pending:
        if alert.doc.get("incident_id"):  # claimed before, its incident maybe never written
            work.setdefault(alert.doc["incident_id"], Work(rt.grouping.key(alert.doc), False)).alerts.append(alert)
    for w in work.values():
        w.alerts.sort(key=lambda a: (model.parse_time(a.doc["first_seen"]), a.id))
    return work


Tallies = dict[str, tuple[int, dict[str, int], list[str]]]  # AlertStore.tallies: count, outcomes, reasons


def _fold(rt: Runtime, service: IncidentService, incident_id: str, w: Work, tallies: Tallies) -> None:
    """Step 2 for an incident that exists: fold the alerts into it (no page waits for its audit entry)."""
    service.mutate(GROUPER, incident_id, _folder(rt, w.key, w.alerts, tallies), "incident.alerts_added",
                   _details(w), shown=False)


def _details(w: Work) -> dict[str, Any]:
    return {"alerts": [a.id for a in w.alerts[:50]], "alerts_taken": len(w.alerts)}


def _folder(rt: Runtime, key: str, alerts: list[PendingAlert],
            tallies: Tallies) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def fold(doc: dict[str, Any]) -> dict[str, Any]:
        new = dict(doc)
        if key not in new.get("keys", []):  # an incident continued under the attacker key takes it
            new["keys"] = sorted({*new.get("keys", []), key})
        for alert in alerts:
            model.fold_alert(new, alert.doc)
        ids = [doc["id"], *doc.get("merged_from", [])]
        if len(ids) == 1 and doc["id"] in tallies:  # counted after this batch's claim
            count, counts, reasons = tallies[doc["id"]]
        else:  # incidents merged into it: their alerts count too
            count, (counts, reasons) = rt.alerts.count(ids), rt.alerts.outcomes(ids)
        new["alert_count"] = count
        model.apply_outcome(new, counts, reasons)
        if new != doc:  # a repeated write that changes nothing is not written (nor audited) again
            new["updated"] = model.iso(rt.clock())
        return new

    return fold


def _create_all(rt: Runtime, new: dict[str, Work], tallies: Tallies) -> set[str]:
    """Step 2 for new incidents: open them all in one request and audit them in one more; the ids
    opened (one that already exists, from a repeated run, is left to the caller to fold into)."""
    now = rt.clock()
    docs: list[dict[str, Any]] = []
    breaches: dict[str, list[str]] = {}
    for incident_id, w in new.items():
        doc = model.new_incident(incident_id, w.key, w.alerts[0].doc, now)
        for alert in w.alerts:
            model.fold_alert(doc, alert.doc)
        count, counts, reasons = tallies.get(incident_id, (0, {"unknown": 0}, []))
        doc["alert_count"] = count
        model.apply_outcome(doc, counts, reasons)
        sla.set_dues(doc, rt.sla)
        breaches[incident_id] = list(sla.evaluate(doc, now))
        docs.append(doc)
    made = rt.incidents.create_many(docs)
    opened = [(doc, new[doc["id"]].alerts) for doc in docs if doc["id"] in made]
    audit_store.append(rt.client, rt.names, [audit_store.entry(
        now, GROUPER.name, "incident.create", "incident", doc["id"], doc["organization"]["id"],
        f"opened with {doc['alert_count']} alerts", before={}, after=model.summary(doc),
        alerts=[a.id for a in alerts[:50]]) for doc, alerts in opened])
    for doc, _ in opened:
        rt.publish("incident.created", doc)
        for kind in breaches[doc["id"]]:
            rt.publish("incident.sla_breach", doc, breach=kind)
    return made
