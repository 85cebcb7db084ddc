"""Rules (state and ATT&CK coverage), source health and reports: read-only pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from soc.detection import store as detection_store
from soc.errors import NotFound, SocError
from soc.incidents.schemas import ID_PATTERN
from soc.web import health, render, store
from soc.web.context import Current
from soc.web.rulebook import Rulebook

router = APIRouter()
REPORTS_PAGE = 50


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, current: Current) -> Response:
    try:
        current.who.require_reader()
    except SocError as exc:
        return current.error(exc)
    book_cache: Rulebook = request.app.state.console_rulebook
    book = book_cache.get()
    states = detection_store.rule_states(current.rt.client, current.rt.names)
    disabled = book_cache.ds.disabled_rules
    rows = []
    for info in sorted(book.rules.values(), key=lambda r: (r.title.lower(), r.id)):
        state: dict[str, Any] = states.get(info.id, {})
        rows.append({"info": info, "enabled": info.id not in disabled and not info.unsupported, "state": state})
    return current.render("rules.html", rows=rows, coverage=book.coverage(), problems=book.problems)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(current: Current) -> Response:
    try:
        current.who.require_reader()
    except SocError as exc:
        return current.error(exc)
    now = current.rt.clock()
    scope = current.who.scope_filter()
    activity = store.source_activity(current.rt.client, current.rt.names, scope, now, timedelta(hours=24))
    onboarded = store.onboarded_sources(current.rt.client, current.rt.names, scope)
    return current.render("sources.html", rows=health.health(activity, onboarded, now), now=now)


def _report(current: Any, report_id: str) -> dict[str, Any]:
    current.who.require_reader()
    doc = store.report(current.rt.client, current.rt.names, report_id)
    agency = ((doc or {}).get("organization") or {}).get("id")
    if doc is None or not (current.who.sees(agency) or (agency == "*" and current.who.role in ("admin", "analyst"))):
        raise NotFound(f"report {report_id!r} does not exist")
    return doc


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, current: Current) -> Response:
    try:
        current.who.require_reader()
    except SocError as exc:
        return current.error(exc)
    offset = request.query_params.get("from", "0")
    start = int(offset) if offset.isdigit() and int(offset) < 10_000 else 0
    items, total = store.reports(current.rt.client, current.rt.names, current.who.scope_filter(), REPORTS_PAGE, start)
    more = start + REPORTS_PAGE if start + REPORTS_PAGE < total else None
    return current.render("reports.html", items=items, total=total, more=more)


ReportId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(current: Current, report_id: ReportId) -> Response:
    try:
        doc = _report(current, report_id)
    except SocError as exc:
        return current.error(exc)
    summary = doc.get("summary") or {}
    rows = [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
            for k, v in (summary.items() if isinstance(summary, dict) else [])]
    return current.render("report.html", doc=doc, rows=rows)


@router.get("/reports/{report_id}/download")
def report_download(current: Current, report_id: ReportId) -> Response:
    try:
        doc = _report(current, report_id)
    except SocError as exc:
        return current.error(exc)
    body = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    response = Response(body, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="report-{report_id}.json"'})
    return render.secure(response)
