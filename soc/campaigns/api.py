"""/api/v1/campaigns: attackers seen by two or more agencies (scoped to the caller's agencies)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from soc.api.deps import Rt, Who
from soc.campaigns import service

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


class CampaignOut(BaseModel):
    entity: str  # "source.ip=203.0.113.5"
    agencies: list[str]  # the caller's agencies among the campaign's (all of them for an all-agency reader)
    active_elsewhere: bool  # the entity attacks agencies the caller does not see
    first_seen: str
    last_seen: str
    rules: list[str]
    incident_ids: list[str]  # only incidents of the caller's agencies, newest first
    compromise_likely: bool


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    since: str


@router.get("", response_model=CampaignPage, summary="Attackers seen by two or more agencies")
def list_campaigns(rt: Rt, who: Who,
                   since: Annotated[AwareDatetime | None, Query(description="last seen at or after (default 7 days)")]
                   = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> CampaignPage:
    found = service.campaigns(rt, who, since if isinstance(since, datetime) else None, limit)
    return CampaignPage.model_validate(found)
