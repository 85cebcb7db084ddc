"""/api/v1/audit: the audit trail, newest first (admins; an admin of some agencies sees theirs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from soc.api.deps import Rt, Who
from soc.audit import service
from soc.incidents.schemas import Agency, Page, When

router = APIRouter(tags=["administration"])


@router.get("/audit", response_model=Page, summary="The audit trail, newest first")
def read_audit(rt: Rt, who: Who, actor: Annotated[str | None, Query(max_length=128)] = None,
               action: Annotated[str | None, Query(max_length=128)] = None,
               object_type: Annotated[str | None, Query(max_length=64)] = None,
               object_id: Annotated[str | None, Query(max_length=128)] = None, agency: Agency | None = None,
               since: When | None = None, until: When | None = None,
               cursor: Annotated[str | None, Query(max_length=2000)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page:
    return Page(**service.read_audit(rt, who, {
        "actor": actor, "action": action, "object_type": object_type, "object_id": object_id, "agency": agency,
        "since": since, "until": until, "cursor": cursor, "limit": limit}))
