"""/api/v1/incidents: list, read, change, comment, bulk, merge, evidence, timeline, suppression rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from soc.api.deps import IdPath, Rt, Who
from soc.incidents import evidence, merging
from soc.incidents.schemas import (
    Agency,
    BulkIn,
    BulkOut,
    CommentIn,
    ContextPage,
    IncidentOut,
    IncidentPage,
    IncidentPatch,
    MergeIn,
    Metrics,
    Outcome,
    Page,
    Severity,
    Sort,
    Status,
    UnmergeIn,
    When,
    incident_dict,
)
from soc.incidents.service import IncidentService
from soc.incidents.store import Stored, Version
from soc.suppressions.schemas import ExceptionIn, ExceptionOut
from soc.suppressions.service import SuppressionService

router = APIRouter(prefix="/incidents", tags=["incidents"])
Short = Annotated[str | None, Query(max_length=128)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=2000)]


def _json(payload: dict[str, Any], status_code: int = 200) -> Response:
    """JSON serialized by orjson; the route still declares its response_model for the OpenAPI document."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _out(stored: Stored, status_code: int = 200) -> Response:
    return _json(incident_dict(stored.doc, stored.version), status_code)


def _filters(agency: list[Agency] | None, status: list[Status] | None, severity: list[Severity] | None,
             assignee: str | None, rule: str | None, tag: str | None, entity: str | None, since: When | None,
             until: When | None, q: str | None, breached: bool | None, include_merged: bool,
             outcome: list[Outcome] | None = None) -> dict[str, Any]:
    return {"agency": agency, "status": status, "severity": severity, "assignee": assignee, "rule": rule,
            "tag": tag, "entity": entity, "since": since, "until": until, "q": q, "breached": breached,
            "include_merged": include_merged, "outcome": outcome}


@router.get("", response_model=IncidentPage, summary="List incidents in the caller's agencies")
def list_incidents(
    rt: Rt, who: Who,
    agency: Annotated[list[Agency] | None, Query(max_length=50)] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    assignee: Short = None, rule: Short = None, tag: Short = None,
    entity: Annotated[str | None, Query(max_length=300)] = None,
    since: Annotated[When | None, Query(description="last seen at or after")] = None,
    until: Annotated[When | None, Query(description="last seen at or before")] = None,
    q: Annotated[str | None, Query(max_length=200, description="words in title, comments, entities")] = None,
    breached: bool | None = None, include_merged: bool = False,
    outcome: Annotated[list[Outcome] | None, Query(description="attempts_failed: cases to close together")] = None,
    sort: Sort = "-last_seen", cursor: Cursor = None, limit: Limit = 50,
) -> Response:
    f = _filters(agency, status, severity, assignee, rule, tag, entity, since, until, q, breached, include_merged,
                 outcome)
    page = IncidentService(rt).search(who, f | {"sort": sort, "cursor": cursor, "limit": limit})
    return _json({"items": [incident_dict(s.doc, s.version, full=False) for s in page["items"]],
                  "next_cursor": page["next_cursor"], "total": page["total"]})


@router.get("/metrics", response_model=Metrics, summary="MTTA, MTTR and SLA breaches over the filtered incidents")
def metrics(rt: Rt, who: Who, agency: Annotated[list[Agency] | None, Query(max_length=50)] = None,
            severity: Annotated[list[Severity] | None, Query()] = None,
            since: When | None = None, until: When | None = None) -> Metrics:
    f = _filters(agency, None, severity, None, None, None, None, since, until, None, None, False)
    return Metrics(**IncidentService(rt).metrics(who, f))


@router.post("/bulk", response_model=BulkOut, summary="Acknowledge, assign, resolve or close many incidents")
def bulk(rt: Rt, who: Who, body: BulkIn) -> BulkOut:
    items = IncidentService(rt).bulk(who, body.ids, body.action, body.model_dump(exclude={"ids", "action"}))
    return BulkOut.model_validate({"items": items})


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(rt: Rt, who: Who, incident_id: IdPath) -> Response:
    return _out(IncidentService(rt).get(who, incident_id))


@router.patch("/{incident_id}", response_model=IncidentOut,
              summary="Change status, resolution, assignee, severity or title; carries the version read",
              responses={409: {"description": "stale version or illegal transition; the current state is included"}})
def patch_incident(rt: Rt, who: Who, incident_id: IdPath, body: IncidentPatch) -> Response:
    changes = body.model_dump(exclude={"version"}, exclude_unset=True)
    return _out(IncidentService(rt).patch(who, incident_id, Version.parse(body.version), changes))


@router.post("/{incident_id}/comments", response_model=IncidentOut, status_code=201)
def add_comment(rt: Rt, who: Who, incident_id: IdPath, body: CommentIn) -> Response:
    return _out(IncidentService(rt).comment(who, incident_id, body.text), 201)


@router.get("/{incident_id}/timeline", response_model=Page, summary="Everything that happened, oldest first")
def timeline(rt: Rt, who: Who, incident_id: IdPath, cursor: Cursor = None, limit: Limit = 100) -> Page:
    return Page(**IncidentService(rt).timeline(who, incident_id, cursor, limit))


@router.post("/{incident_id}/merge", response_model=IncidentOut, summary="Merge other incidents into this one")
def merge(rt: Rt, who: Who, incident_id: IdPath, body: MergeIn) -> Response:
    return _out(merging.merge(rt, who, incident_id, body.sources))


@router.post("/{incident_id}/unmerge", response_model=IncidentOut, summary="Take a merged incident out again")
def unmerge(rt: Rt, who: Who, incident_id: IdPath, body: UnmergeIn) -> Response:
    return _out(merging.unmerge(rt, who, incident_id, body.source))


@router.get("/{incident_id}/alerts", response_model=Page, summary="Alerts with their matched raw events")
def alerts(rt: Rt, who: Who, incident_id: IdPath, cursor: Cursor = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Page:
    return Page(**evidence.alerts(rt, who, incident_id, cursor, limit))


@router.get("/{incident_id}/context", response_model=ContextPage,
            summary="Events of the incident's entities in a time range around it")
def context(rt: Rt, who: Who, incident_id: IdPath,
            before_minutes: Annotated[int, Query(ge=0, le=1440)] = 30,
            after_minutes: Annotated[int, Query(ge=0, le=1440)] = 30,
            cursor: Cursor = None, limit: Limit = 100) -> ContextPage:
    return ContextPage(**evidence.context(rt, who, incident_id, timedelta(minutes=before_minutes),
                                          timedelta(minutes=after_minutes), cursor, limit))


@router.post("/{incident_id}/exceptions", response_model=ExceptionOut, status_code=201,
             summary="Create an exception for a rule of this incident (owner, reason, expiry)")
def create_exception(rt: Rt, who: Who, incident_id: IdPath, body: ExceptionIn) -> ExceptionOut:
    spec = body.model_dump()
    return ExceptionOut.of(SuppressionService(rt).create_from_incident(who, incident_id, spec))
