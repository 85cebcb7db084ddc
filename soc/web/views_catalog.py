"""Rules (state and ATT&CK coverage), source health and reports: read-only pages.

Sources and reports come from their own services (``soc.sources``, ``soc.reports``) with the
same scope checks as their API; this module only orders and shows what they return.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from soc.alerts import store as alerts_store
from soc.detection import store as detection_store
from soc.errors import SocError
from soc.incidents.schemas import ID_PATTERN
from soc.reports import service as reports
from soc.reports.settings import FORMATS
from soc.sources import health as source_health
from soc.sources import service as sources
from soc.web import render
from soc.web.context import Current
from soc.web.rulebook import Rulebook

router = APIRouter()
REPORTS_PAGE = 50
STATE_ORDER = {"silent": 0, "unknown": 1, "degraded": 2, "healthy": 3}
# A stored HTML report is a document of its own: its inline styles and embedded charts, no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'"
ReportId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, current: Current) -> Response:
    try:
        current.who.require_reader()
    except SocError as exc:
        return current.error(exc)
    book_cache: Rulebook = request.app.state.console_rulebook
    book = book_cache.get()
    states = detection_store.rule_states(current.rt.client, current.rt.names)
    # the stored hit counts are every agency's: a reader of some agencies sees their alerts counted
    scoped = None if current.who.everywhere else alerts_store.hits_by_rule(
        current.rt.client, current.rt.names, list(current.who.agencies))
    disabled = book_cache.ds.disabled_rules
    rows = []
    for info in sorted(book.rules.values(), key=lambda r: (r.title.lower(), r.id)):
        state: dict[str, Any] = states.get(info.id, {})
        if scoped is not None:
            state = state | {"hits": scoped.get(info.id, 0)}
        rows.append({"info": info, "enabled": info.id not in disabled and not info.unsupported, "state": state})
    return current.render("rules.html", rows=rows, coverage=book.coverage(), problems=book.problems)


def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Silent sources first (the longest silence first), then unregistered senders, degraded, healthy;
    by name within."""
    return sorted(rows, key=lambda r: (STATE_ORDER.get(r["state"], 4), -(r.get("silent_for_s") or 0),
                                       str(r.get("name") or r["source_id"])))


@router.get("/sources", response_class=HTMLResponse)
def sources_page(current: Current) -> Response:
    try:
        current.who.require_reader()
        listed = sources.listing(current.rt.client, current.rt.names, current.who)
    except SocError as exc:
        return current.error(exc)
    now = current.rt.clock()
    found = source_health.compute(current.rt.client, current.rt.names, listed, now) + source_health.unknown(
        current.rt.client, current.rt.names, sources.scope(current.who), now)  # unregistered senders
    return current.render("sources.html", rows=ordered([h.as_dict() for h in found]))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, current: Current) -> Response:
    offset = request.query_params.get("from", "0")
    start = int(offset) if offset.isdigit() and int(offset) < 10_000 else 0
    try:
        total, items = reports.list_for(current.rt.client, current.rt.names, current.who, None, None,
                                        REPORTS_PAGE, start)
    except SocError as exc:
        return current.error(exc)
    more = start + REPORTS_PAGE if start + REPORTS_PAGE < total else None
    return current.render("reports.html", items=items, total=total, more=more)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(current: Current, report_id: ReportId) -> Response:
    try:
        doc = reports.get_for(current.rt.client, current.rt.names, current.who, report_id)
    except SocError as exc:
        return current.error(exc)
    summary = doc.get("summary") or {}
    rows = [(f"reports.summary.{k}", v) for k, v in summary.items()] if isinstance(summary, dict) else []
    formats = [f for f in FORMATS if f in (doc.get("formats") or FORMATS)]
    return current.render("report.html", doc=doc, rows=rows, formats=formats)


@router.get("/reports/{report_id}/file/{fmt}")
def report_file(current: Current, report_id: ReportId, fmt: str, download: bool = False) -> Response:
    try:
        data, media_type, filename = reports.file_for(current.rt.client, current.rt.names, current.who,
                                                      report_id, fmt)
    except SocError as exc:
        return current.error(exc)
    inline = fmt in ("html", "pdf") and not download
    response = Response(data, media_type=media_type, headers={
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"'})
    render.secure(response)
    if fmt == "html":
        response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
