"""/api/v1/sources: onboard (returns the ready-to-use files), list, show, remove, health, coverage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from soc.api.costly import Recent, shared
from soc.api.deps import IdPath, Rt, Who
from soc.detection import catalogue
from soc.detection import settings as detect_settings
from soc.errors import Invalid
from soc.search import AGENCY_ID_PATTERN
from soc.sources import coverage, health, service, store
from soc.sources.schemas import CoverageOut, HealthOut, OnboardedOut, SourceIn, SourceOut

router = APIRouter(prefix="/sources", tags=["sources"])
COVERAGE_TTL_S = 60.0  # the coverage of an agency's data changes slowly; an answer is reused this long
AgencyQuery = Annotated[str | None, Query(pattern=AGENCY_ID_PATTERN)]


@router.post("", response_model=OnboardedOut, status_code=201, summary="Onboard a log source")
def add_source(rt: Rt, who: Who, body: SourceIn) -> OnboardedOut:
    doc = service.new_source(rt.client, rt.names, who, body.agency, body.type, body.name, body.host,
                             body.expected_rate, body.silence_after, body.collector_address, body.port,
                             body.protocol, body.log_path)
    return OnboardedOut(source=SourceOut.of(doc), files=service.configuration(rt.client, rt.names, who, doc["id"]))


@router.get("", response_model=list[SourceOut])
def list_sources(rt: Rt, who: Who, agency: AgencyQuery = None) -> list[SourceOut]:
    who.require_reader()
    return [SourceOut.of(d) for d in service.listing(rt.client, rt.names, who, agency)]


@router.get("/health", response_model=list[HealthOut])
def sources_health(rt: Rt, who: Who, agency: AgencyQuery = None) -> list[HealthOut]:
    who.require_reader()
    sources = service.listing(rt.client, rt.names, who, agency)
    found = health.compute(rt.client, rt.names, sources) + health.unknown(
        rt.client, rt.names, service.scope(who, agency))
    return [HealthOut(**h.as_dict()) for h in found]


@router.get("/coverage", response_model=CoverageOut, summary="Rules that can and cannot fire on an agency's data")
def sources_coverage(rt: Rt, who: Who, agency: Annotated[str, Query(pattern=AGENCY_ID_PATTERN)],
                     type: Literal["syslog", "nginx", "apache"],
                     days: Annotated[float, Query(gt=0, le=90)] = 7) -> CoverageOut:
    who.require_reader()
    who.require_visible(agency, "agency", agency)

    def compute() -> CoverageOut:  # loads and compiles every rule, then aggregates a week of events
        ds = detect_settings.load()
        report = coverage.check(rt.client, rt.names, agency, type, list(catalogue.get(ds.rule_paths).compiled),
                                ds, days)
        return CoverageOut(**coverage.as_dict(report))

    recent: Recent[CoverageOut] = shared("sources.coverage", lambda: Recent(COVERAGE_TTL_S, 64))
    return recent.get((rt.names.sources, agency, type, days), compute)


@router.get("/{source_id}", response_model=OnboardedOut)
def get_source(rt: Rt, who: Who, source_id: IdPath) -> OnboardedOut:
    who.require_reader()
    doc = service.get(rt.client, rt.names, who, source_id)
    return OnboardedOut(source=SourceOut.of(doc), files=service.configuration(rt.client, rt.names, who, source_id))


@router.get("/{source_id}/health", response_model=HealthOut)
def source_health(rt: Rt, who: Who, source_id: IdPath) -> HealthOut:
    who.require_reader()
    doc = service.get(rt.client, rt.names, who, source_id)
    return HealthOut(**health.compute(rt.client, rt.names, [doc])[0].as_dict())


@router.delete("/{source_id}", status_code=204, response_class=Response)
def remove_source(rt: Rt, who: Who, source_id: IdPath) -> Response:
    service.remove(rt.client, rt.names, who, source_id)
    return Response(status_code=204)


__all__ = ["Invalid", "router", "store"]
