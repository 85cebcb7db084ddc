"""/api/v1/reports: list, read and download weekly reports within the caller's agencies; produce one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from soc.api.deps import Rt, Who
from soc.reports import service
from soc.reports import settings as report_settings
from soc.reports.period import last_complete, parse
from soc.reports.schemas import GenerateIn, ReportOut, ReportPage, public

router = APIRouter(prefix="/reports", tags=["reports"])
ReportId = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}\.[A-Za-z0-9_.\-]{1,64}\.(vi|en)$",
                               description="a report id as listed, e.g. 2025-W10.province.vi")]


@router.get("", response_model=ReportPage)
def list_reports(rt: Rt, who: Who, week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$")] = None,
                 agency: Annotated[str | None, Query(pattern=r"^(\*|[A-Za-z0-9_.\-]{1,64})$")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=10_000,
                                              description="offset + limit must be at most 10000")] = 0) -> ReportPage:
    total, docs = service.list_for(rt.client, rt.names, who, week, agency, limit, offset)
    return ReportPage(total=total, items=[public(d) for d in docs])


@router.post("", response_model=ReportOut, status_code=201)
def generate(rt: Rt, who: Who, body: GenerateIn) -> ReportOut:
    """Compute and store a report now (JSON); HTML, PDF and CSV are rendered from it when downloaded."""
    rs = report_settings.load()
    week = parse(body.week, rs.timezone) if body.week else last_complete(datetime.now(UTC), rs.timezone)
    return public(service.generate_for(rt.client, rt.names, who, rs, week, body.agency, body.lang))


@router.get("/{report_id}", response_model=dict[str, Any])
def get_report(rt: Rt, who: Who, report_id: ReportId) -> dict[str, Any]:
    """The report's metadata and its full JSON content."""
    doc = service.get_for(rt.client, rt.names, who, report_id)
    return public(doc).model_dump() | {"content": doc["content"]}


@router.get("/{report_id}/{fmt}", response_class=Response,
            responses={200: {"content": {m: {} for m in service.MEDIA_TYPES.values()}}})
def download(rt: Rt, who: Who, report_id: ReportId, fmt: Literal["html", "pdf", "json", "csv"]) -> Response:
    data, media, filename = service.file_for(rt.client, rt.names, who, report_id, fmt)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"}
    return Response(content=data, media_type=media, headers=headers)
