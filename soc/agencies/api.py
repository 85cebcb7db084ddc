"""/api/v1/agencies: add (admin of every agency), list and read (within the caller's scope)."""

from __future__ import annotations

from fastapi import APIRouter

from soc.agencies import service
from soc.agencies.schemas import AgencyIn, AgencyOut
from soc.api.deps import IdPath, Rt, Who

router = APIRouter(prefix="/agencies", tags=["agencies"])


@router.post("", response_model=AgencyOut, status_code=201)
def add_agency(rt: Rt, who: Who, body: AgencyIn) -> AgencyOut:
    doc = service.new_document(body.id, body.name_vi, body.name_en, body.timezone, body.contacts,
                               body.collector_address)
    return AgencyOut.of(service.add(rt.client, rt.names, who, doc))


@router.get("", response_model=list[AgencyOut])
def list_agencies(rt: Rt, who: Who) -> list[AgencyOut]:
    return [AgencyOut.of(d) for d in service.listing(rt.client, rt.names, who)]


@router.get("/{agency_id}", response_model=AgencyOut)
def get_agency(rt: Rt, who: Who, agency_id: IdPath) -> AgencyOut:
    return AgencyOut.of(service.get(rt.client, rt.names, who, agency_id))
