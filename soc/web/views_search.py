"""The Search page: the hunt service's search with a query bar, a time range, a server-drawn SVG
histogram, results, the top values of a few fields (click to filter in or out) and exports.

Everything comes from ``soc.hunt.service`` with the same scope as the API. Values put back into a
query (filter in/out) are quoted and escaped, so log content is always a literal to the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from soc.errors import BadQuery, SocError
from soc.hunt import export
from soc.hunt.schemas import ExportIn, SearchIn
from soc.hunt.service import SearchService, iso
from soc.web import render
from soc.web.context import Current

router = APIRouter()
RANGES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24),
          "7d": timedelta(days=7), "30d": timedelta(days=30)}
FACETS = ("event.dataset", "host.name", "source.ip", "source.geo.country_iso_code", "source.as.organization.name",
          "user.name", "http.response.status_code", "url.path")
PAGE = 50
CHART_W, CHART_H = 720, 120


def quoted(value: Any) -> str:
    """A value as a phrase of the search language (quotes and backslashes escaped)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def refine(q: str, field: str, value: Any, keep: bool) -> str:
    cond = f"{field}:{quoted(value)}"
    cond = cond if keep else f"NOT {cond}"
    return f"({q}) AND {cond}" if q.strip() else cond


def pivot_url(incident: dict[str, Any], field: str, value: Any) -> str:
    """The Search page for one entity of an incident: from a day before it began to an hour after it."""
    first, last = render.parse(incident.get("first_seen")), render.parse(incident.get("last_seen"))
    args: dict[str, str] = {"q": f"{field}:{quoted(value)}"}
    if first and last:
        args |= {"start": iso(first - timedelta(hours=24)), "end": iso(last + timedelta(hours=1))}
    else:
        args["range"] = "7d"
    return "/console/search?" + urlencode(args)


def bars(histogram: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Histogram buckets as SVG rectangles (x, y, width, height in the chart's own units)."""
    if not histogram:
        return []
    top = max(b["count"] for b in histogram) or 1
    width = CHART_W / len(histogram)
    out = []
    for i, b in enumerate(histogram):
        h = round(b["count"] / top * (CHART_H - 4), 1)
        out.append({"x": round(i * width, 1), "y": round(CHART_H - h, 1), "w": max(round(width - 1, 1), 1),
                    "h": h, "t": b["t"], "count": b["count"]})
    return out


def _window(span: str, start: str, end: str) -> tuple[datetime | str, datetime | str]:
    if start and end:
        return start, end
    now = datetime.now(UTC).replace(microsecond=0)
    return now - RANGES.get(span, RANGES["24h"]), now


@router.get("/search", response_class=HTMLResponse)
def search_page(current: Current, q: str = "", range: str = "24h", start: str = "", end: str = "",
                agency: str = "", cursor: str = "") -> Response:
    who = current.who
    try:
        who.require_reader()
    except SocError as exc:
        return current.error(exc)
    facets = (("organization.id",) if who.everywhere else ()) + FACETS
    begin, finish = _window(range, start, end)
    args: dict[str, Any] = {"q": q, "range": range if range in RANGES else "24h", "agency": agency}
    context: dict[str, Any] = {"args": args, "ranges": list(RANGES), "result": None, "error": None, "bars": [],
                               "chart": {"w": CHART_W, "h": CHART_H}, "refine": refine, "urlencode": urlencode}
    try:
        req = SearchIn.model_validate({"query": q, "from": begin, "to": finish, "agency": agency or None,
                                       "size": PAGE, "facets": list(facets), "histogram": True,
                                       "cursor": cursor or None})
        result = SearchService(current.rt.client, current.rt.names).search(who, req, datetime.now(UTC))
    except BadQuery as exc:
        context["error"] = {"reason": exc.reason, "position": exc.position}
        return current.render("search.html", **context)  # the form again, with where it went wrong
    except (SocError, ValidationError) as exc:
        reason = "; ".join(str(e["msg"]) for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        context["error"] = {"reason": reason, "position": None}
        return current.render("search.html", **context)
    assert req.start is not None and req.end is not None
    fixed = {"q": q, "agency": agency, "start": iso(req.start), "end": iso(req.end)}
    context.update(result=result, bars=bars(result["histogram"]), fixed=fixed,
                   next_url=f"/console/search?{urlencode(fixed | {'cursor': result['next']})}" if result["next"]
                   else None, export_query=urlencode(fixed))
    return current.render("search.html", **context)


@router.get("/search/export")
def search_export(current: Current, format: str = "csv", q: str = "", start: str = "", end: str = "",
                  agency: str = "") -> Response:
    try:
        current.who.require_reader()
        if format not in ("csv", "ndjson"):
            raise BadQuery("format: csv or ndjson")
        req = ExportIn.model_validate({"query": q, "from": start or None, "to": end or None,
                                       "agency": agency or None, "limit": 10_000})
        rows = list(SearchService(current.rt.client, current.rt.names).export(current.who, req, datetime.now(UTC)))
    except SocError as exc:
        return current.error(exc)
    except ValidationError as exc:
        return current.render("error.html", status=422, message="; ".join(str(e["msg"]) for e in exc.errors()))
    data: str | bytes = export.to_csv(rows) if format == "csv" else export.to_ndjson(rows)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    response = Response(content=data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="events.{format}"'})
    return render.secure(response)
