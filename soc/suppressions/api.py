"""/api/v1/exceptions (the HTTP name of suppression rules): list, read, expire and delete.

A rule is created from an incident: ``POST /api/v1/incidents/{id}/exceptions`` (soc.incidents.api).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from soc.api.deps import IdPath, Rt, Who
from soc.incidents.schemas import Agency
from soc.suppressions.schemas import ExceptionOut, ExceptionPage
from soc.suppressions.service import SuppressionService

router = APIRouter(prefix="/exceptions", tags=["exceptions"])


@router.get("", response_model=ExceptionPage)
def list_exceptions(rt: Rt, who: Who, rule_id: Annotated[str | None, Query(max_length=128)] = None,
                    agency: Agency | None = None, incident_id: Annotated[str | None, Query(max_length=64)] = None,
                    active: bool | None = None, cursor: Annotated[str | None, Query(max_length=2000)] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ExceptionPage:
    page = SuppressionService(rt).search(who, {"rule_id": rule_id, "agency": agency, "incident_id": incident_id,
                                               "active": active, "cursor": cursor, "limit": limit})
    return ExceptionPage(items=[ExceptionOut.of(d) for d in page["items"]], next_cursor=page["next_cursor"])


@router.get("/{exception_id}", response_model=ExceptionOut)
def get_exception(rt: Rt, who: Who, exception_id: IdPath) -> ExceptionOut:
    return ExceptionOut.of(SuppressionService(rt).get(who, exception_id))


@router.post("/{exception_id}/expire", response_model=ExceptionOut, summary="Stop applying it now (kept for audit)")
def expire_exception(rt: Rt, who: Who, exception_id: IdPath) -> ExceptionOut:
    return ExceptionOut.of(SuppressionService(rt).expire(who, exception_id))


@router.delete("/{exception_id}", status_code=204, response_class=Response)
def delete_exception(rt: Rt, who: Who, exception_id: IdPath) -> Response:
    SuppressionService(rt).delete(who, exception_id)
    return Response(status_code=204)
