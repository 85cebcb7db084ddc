"""/api/v1/alerts: read alerts (detection writes them; only grouping changes their incident_id)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from soc.alerts import service as alerts
from soc.api.deps import IdPath, Rt, Who
from soc.incidents.schemas import Agency, Page, Severity

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=Page)
def list_alerts(rt: Rt, who: Who, agency: Annotated[list[Agency] | None, Query(max_length=50)] = None,
                rule: Annotated[str | None, Query(max_length=128)] = None,
                severity: Annotated[list[Severity] | None, Query()] = None,
                incident_id: Annotated[str | None, Query(max_length=64)] = None, ungrouped: bool = False,
                cursor: Annotated[str | None, Query(max_length=2000)] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page:
    return Page(**alerts.search(rt, who, {"agency": agency, "rule": rule, "severity": severity,
                                          "incident_id": incident_id, "ungrouped": ungrouped,
                                          "cursor": cursor, "limit": limit}))


@router.get("/{alert_id}", response_model=dict[str, Any])
def get_alert(rt: Rt, who: Who, alert_id: IdPath) -> dict[str, Any]:
    return alerts.get(rt, who, alert_id)
