"""The incident queue: filters, severity-and-age order, SLA timers, paging, bulk actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from soc.errors import Invalid, SocError
from soc.incidents.model import OPEN_STATUSES, OUTCOMES, RESOLUTIONS, SEVERITIES, STATUSES
from soc.incidents.service import IncidentService
from soc.web import i18n, render
from soc.web.context import Current, Posted, safe_next

router = APIRouter()
PAGE_SIZE = 50
SPANS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
QUEUE_SORTS = ("-severity", "created", "-last_seen", "-created", "-alert_count")
BULK = ("acknowledge", "start", "assign_me", "resolve", "close")
FILTER_KEYS = ("agency", "severity", "status", "assignee", "rule", "since", "sort", "q", "entity", "breached",
               "outcome")


def _text(request: Request, name: str, limit: int = 128) -> str:
    return (request.query_params.get(name) or "").strip()[:limit]


def filters(request: Request, me: str, now: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Service filters from the query string, and the form values to show back."""
    shown = {k: _text(request, k, 300) for k in FILTER_KEYS}
    f: dict[str, Any] = {}
    if shown["agency"]:
        f["agency"] = [shown["agency"]]
    if shown["severity"] in SEVERITIES:
        f["severity"] = [shown["severity"]]
    status = shown["status"] or "open"
    shown["status"] = status
    if status == "open":
        f["status"] = list(OPEN_STATUSES)
    elif status in STATUSES:
        f["status"] = [status]
    if shown["assignee"]:
        f["assignee"] = me if shown["assignee"] == "me" else shown["assignee"]
    for name in ("rule", "q", "entity"):
        if shown[name]:
            f[name] = shown[name]
    if shown["since"] in SPANS:
        f["since"] = now - SPANS[shown["since"]]
    if shown["outcome"] in OUTCOMES:  # "attempts_failed": the cases to close together with one resolution
        f["outcome"] = [shown["outcome"]]
    if shown["breached"] == "1":
        f["breached"] = True
    sort = shown["sort"] if shown["sort"] in QUEUE_SORTS else "-severity"
    shown["sort"] = sort
    f["sort"] = sort
    return f, shown


def sla_due(doc: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    """The running SLA clock of an incident: (which, due time, breached)."""
    sla = doc.get("sla") or {}
    if doc.get("status") == "new":
        return "ack", sla.get("ack_due"), bool(sla.get("ack_breached"))
    if doc.get("status") in OPEN_STATUSES:
        return "resolve", sla.get("resolve_due"), bool(sla.get("resolve_breached"))
    return None, None, bool(sla.get("ack_breached") or sla.get("resolve_breached"))


@router.get("/incidents", response_class=HTMLResponse)
def queue(request: Request, current: Current) -> Response:
    now = current.rt.clock()
    f, shown = filters(request, current.who.name, now)
    cursor = _text(request, "cursor", 2000) or None
    try:
        result = IncidentService(current.rt).search(current.who, f | {"cursor": cursor, "limit": PAGE_SIZE})
    except SocError as exc:
        return current.error(exc)
    rows = []
    for stored in result["items"]:
        doc = stored.doc
        kind, due, breached = sla_due(doc)
        due_at = render.parse(due)
        created = render.parse(doc.get("created"))
        rows.append({"doc": doc, "sla_kind": kind, "sla_due": due, "breached": breached,
                     "remaining": (due_at - now).total_seconds() if due_at else None,
                     "age": (now - created).total_seconds() if created else None})
    base = {k: v for k, v in shown.items() if v}
    next_url = f"?{urlencode(base | {'cursor': result['next_cursor']})}" if result["next_cursor"] else None
    return current.render("queue.html", rows=rows, total=result["total"], shown=shown, next_url=next_url,
                          first_url=f"?{urlencode(base)}", paged=bool(cursor), back=urlencode(base),
                          severities=SEVERITIES, statuses=STATUSES, resolutions=RESOLUTIONS, spans=list(SPANS),
                          sorts=QUEUE_SORTS, bulk_actions=BULK, outcomes=OUTCOMES, agencies=_agency_choices(current))


def _agency_choices(current: Any) -> list[str]:
    if not current.who.everywhere:
        return list(current.who.agencies)
    return sorted(current.zones())


@router.post("/incidents/bulk")
def bulk(posted: Posted) -> Response:
    current, form = posted
    back = safe_next("/console/incidents?" + form.one("back").replace("\n", "").replace("\r", ""))
    action = form.one("action")
    ids = form.many("ids")
    try:
        if action not in BULK:
            raise Invalid(f"unknown action {action!r}")
        if not ids:
            raise Invalid("select at least one incident")
        if len(ids) > len(set(ids)) or len(ids) > 500:
            raise Invalid("select each incident once, at most 500")
        params: dict[str, Any] = {}
        if action == "assign_me":
            action, params = "assign", {"assignee": current.who.name}
        if action == "resolve":
            params = {"resolution": form.one("resolution") or None}
            if params["resolution"] not in RESOLUTIONS:
                raise Invalid("resolution: choose a resolution to resolve incidents")
        items = IncidentService(current.rt).bulk(current.who, ids, action, params)
    except SocError as exc:
        return current.back(back, exc)
    failed = [i for i in items if not i["ok"]]
    if failed:
        return current.back(back, Invalid("; ".join(f"{i['id']}: {i['error']}" for i in failed)))
    return current.back(back, done=i18n.translate(current.lang, "bulk.done", count=len(items)))


