"""One incident: evidence with matched fields highlighted, pivots, timeline, comments, and the
analyst's actions (acknowledge, assign to me, status with resolution, exception, merge, un-merge)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from soc import ecs
from soc.errors import Invalid, SocError
from soc.incidents import evidence, merging, model, storyline
from soc.incidents.schemas import ID_PATTERN, IncidentPatch
from soc.incidents.service import IncidentService
from soc.incidents.store import Version
from soc.suppressions.match import OPS
from soc.suppressions.schemas import ExceptionIn
from soc.suppressions.service import SuppressionService
from soc.web import history, i18n, store
from soc.web.context import Current, Page, Posted
from soc.web.rulebook import Rulebook
from soc.web.views_search import pivot_url

router = APIRouter()
IncidentId = Annotated[str, Path(pattern=ID_PATTERN)]
PIVOT_HOURS = 24
PIVOT_LIMIT = 100


def _rulebook(request: Request) -> Rulebook:
    book: Rulebook = request.app.state.console_rulebook
    return book


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def event_rows(event: dict[str, Any], marked: set[str]) -> list[dict[str, Any]]:
    """An event as (field, text, matched) rows; the raw line is shown on its own above them."""
    flat = ecs.flatten({k: v for k, v in event.items() if not k.startswith("_")})
    return [{"field": k, "value": _value(v), "matched": k in marked}
            for k, v in sorted(flat.items()) if k != "event.original"]


def pivots(doc: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, values in evidence.entity_terms(doc.get("entities", [])).items():
        for value in values:
            query = urlencode({"incident": doc["id"], "field": name, "value": value})
            out.append({"field": name, "value": value, "events": f"/console/events?{query}",
                        "incidents": "/console/incidents?" + urlencode({"entity": f"{name}={value}", "status": "all"}),
                        "search": pivot_url(doc, name, value)})
    return out


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, current: Current, incident_id: IncidentId) -> Response:
    rt, who = current.rt, current.who
    try:
        stored = IncidentService(rt).get(who, incident_id)
        cursor = request.query_params.get("alerts") or None
        found = evidence.alerts(rt, who, incident_id, cursor, 20)
        timeline = IncidentService(rt).timeline(who, incident_id, None, 200)
        excs = SuppressionService(rt).search(who, {"incident_id": incident_id, "limit": 50})
        story = storyline.for_incident(rt, stored.doc)
    except SocError as exc:
        return current.error(exc)
    doc = stored.doc
    book = _rulebook(request).get()
    alerts = []
    for item in found["items"]:
        alert = item["alert"]
        info = book.rules.get(alert["rule"]["id"])
        marked = info.fields if info else set()
        alerts.append({"alert": alert, "raw_matched": "event.original" in marked,
                       "events": [{"id": e.get("_id"), "original": model.dotted(e, "event.original"),
                                   "rows": event_rows(e, marked)} for e in item["events"]]})
    transitions = sorted(model.TRANSITIONS[doc["status"]])
    return current.render("incident.html", doc=doc, version=str(stored.version), alerts=alerts,
                          next_alerts=found["next_cursor"], timeline=history.lines(current.lang, timeline["items"]),
                          story=story, story_max=storyline.MAX_ALERTS, exceptions=excs["items"],
                          pivots=pivots(doc), transitions=transitions, resolutions=model.RESOLUTIONS,
                          ops=OPS, fields=sorted(ecs.FIELDS), rule_names={r: book.rules[r].title
                                                                           for r in doc["rule_ids"] if r in book.rules},
                          agency_zone=current.zone(doc["organization"]["id"]))


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, current: Current) -> Response:
    q = request.query_params
    incident_id, name, value = q.get("incident", ""), q.get("field", ""), q.get("value", "")[:1024]
    try:
        if name not in model.ENTITY_FIELDS or not value:
            raise Invalid(f"field: pivots are on {', '.join(model.ENTITY_FIELDS)}")
        if name == "source.ip":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise Invalid(f"value: {value!r} is not an address") from None
        doc = IncidentService(current.rt).get(current.who, incident_id[:64]).doc
    except SocError as exc:
        return current.error(exc)
    end = model.parse_time(doc["last_seen"]) + timedelta(hours=1)
    start = end - timedelta(hours=PIVOT_HOURS + 1)
    hits, total = store.events_of(current.rt.client, current.rt.names, doc["organization"]["id"], name, value,
                                  model.iso(start), model.iso(end), PIVOT_LIMIT)
    rows = [{"at": model.dotted(h, "@timestamp"), "dataset": model.dotted(h, "event.dataset"),
             "original": model.dotted(h, "event.original")} for h in hits]
    return current.render("events.html", doc=doc, field=name, value=value, rows=rows, total=total,
                          start=model.iso(start), end=model.iso(end), hours=PIVOT_HOURS,
                          agency_zone=current.zone(doc["organization"]["id"]))


def _target(incident_id: str) -> str:
    return f"/console/incidents/{incident_id}"


def _patch(current: Page, incident_id: str, version: str, changes: dict[str, Any]) -> None:
    try:
        body = IncidentPatch.model_validate({"version": version, **changes})
    except ValidationError as exc:
        raise Invalid("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    IncidentService(current.rt).patch(current.who, incident_id, Version.parse(body.version),
                                      body.model_dump(exclude={"version"}, exclude_unset=True))


def _done(current: Page, key: str) -> str:
    return i18n.translate(current.lang, key)


def _act(current: Page, incident_id: str, work: Callable[[], object], done: str) -> Response:
    """Run one action; back to the incident page with its outcome (or the reason it was refused)."""
    try:
        work()
    except SocError as exc:
        return current.back(_target(incident_id), exc)
    return current.back(_target(incident_id), done=_done(current, done))


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    return _act(current, incident_id, lambda: _patch(current, incident_id, form.one("version"),
                                                     {"status": "acknowledged"}), "done.acknowledged")


@router.post("/incidents/{incident_id}/assign")
def assign_to_me(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    return _act(current, incident_id, lambda: _patch(current, incident_id, form.one("version"),
                                                     {"assignee": current.who.name}), "done.assigned")


@router.post("/incidents/{incident_id}/status")
def change_status(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    changes: dict[str, Any] = {"status": form.one("status")}
    if form.one("resolution"):
        changes["resolution"] = form.one("resolution")
    return _act(current, incident_id, lambda: _patch(current, incident_id, form.one("version"), changes),
                "done.status")


@router.post("/incidents/{incident_id}/comment")
def comment(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    text = form.data.get("text", [""])[0].strip()

    def work() -> None:
        if not text or len(text) > 10_000:
            raise Invalid("text: a comment has 1 to 10,000 characters")
        IncidentService(current.rt).comment(current.who, incident_id, text)

    return _act(current, incident_id, work, "done.comment")


@router.post("/incidents/{incident_id}/exception")
def create_exception(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted

    def work() -> None:
        days = form.one("days", "30")
        if not days.isdigit() or not 1 <= int(days) <= 365:
            raise Invalid("days: an exception lasts 1 to 365 days")
        try:
            spec = ExceptionIn.model_validate({
                "rule_id": form.one("rule_id"), "owner": current.who.name, "reason": form.one("reason"),
                "conditions": [{"field": form.one("field"), "op": form.one("op"), "value": form.one("value")}],
                "expires": current.rt.clock() + timedelta(days=int(days))})
        except ValidationError as exc:
            raise Invalid("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        SuppressionService(current.rt).create_from_incident(current.who, incident_id, spec.model_dump())

    return _act(current, incident_id, work, "done.exception")


@router.post("/incidents/{incident_id}/merge")
def merge(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    sources = [s for s in form.one("sources").replace(",", " ").split() if s]

    def work() -> None:
        if not sources or len(sources) > 50:
            raise Invalid("sources: name 1 to 50 incident ids")
        merging.merge(current.rt, current.who, incident_id, sources)

    return _act(current, incident_id, work, "done.merged")


@router.post("/incidents/{incident_id}/unmerge")
def unmerge(posted: Posted, incident_id: IncidentId) -> Response:
    current, form = posted
    return _act(current, incident_id, lambda: merging.unmerge(current.rt, current.who, incident_id,
                                                              form.one("source")), "done.unmerged")
