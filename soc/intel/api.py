"""/api/v1/intel: import indicators (admin of every agency), list them, remove them; feeds pulled on a schedule.

``POST /intel/import?feed=NAME`` takes the file itself as the request body (a STIX 2.1 bundle, a
MISP event, a CSV or a plain list; the format is recognised or given with ``format``).
``/intel/feeds`` (admins of every agency): subscriptions to pull from a URL, and a pull on demand.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from soc.api.deps import Rt, Who
from soc.errors import Invalid
from soc.intel import feeds, schemas, service
from soc.intel.schemas import FeedIn, FeedOut, ImportOut, IndicatorOut, IndicatorPage, PullOut, RemoveIn, RemoveOut
from soc.intel.settings import load

router = APIRouter(prefix="/intel", tags=["threat intelligence"])


@router.post("/import", response_model=ImportOut, status_code=200)
async def import_indicators(
        request: Request, rt: Rt, who: Who,
        feed: Annotated[str, Query(min_length=1, max_length=64, description="the feed's name (provider)")],
        format: Annotated[str, Query(description="auto, stix, misp, csv or list")] = "auto",
        type: Annotated[str | None, Query(description="the type of a list's values, else guessed")] = None,
        expires_days: Annotated[float | None, Query(ge=0, le=3650)] = None) -> ImportOut:
    who.require_admin(global_scope=True)
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"request body: not UTF-8 text (byte {exc.start})") from None
    days = expires_days if expires_days is not None else load().expires_days
    result = await run_in_threadpool(service.import_text, rt.client, rt.names, who, text, feed, format, type, days,
                                     "request body")
    return ImportOut.model_validate(result.__dict__)


@router.get("/indicators", response_model=IndicatorPage)
def list_indicators(rt: Rt, who: Who, feed: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Annotated[int, Query(ge=0, le=9000)] = 0) -> IndicatorPage:
    rows, total = service.listing(rt.client, rt.names, who, feed, limit, offset)
    return IndicatorPage(total=total, items=[IndicatorOut.of(r) for r in rows])


@router.post("/indicators/remove", response_model=RemoveOut)
def remove_indicators(rt: Rt, who: Who, body: RemoveIn) -> RemoveOut:
    return RemoveOut(removed=service.remove(rt.client, rt.names, who, body.ids, body.feed))


@router.get("/feeds", response_model=list[FeedOut])
def list_feeds(rt: Rt, who: Who) -> list[FeedOut]:
    return [FeedOut.of(f) for f in feeds.listing(rt.client, rt.names, who)]


@router.post("/feeds", response_model=FeedOut, status_code=201)
def add_feed(rt: Rt, who: Who, body: FeedIn) -> FeedOut:
    who.require_admin(global_scope=True)
    doc = feeds.new_feed(body.name, body.url, body.format, body.interval, body.expires_days, body.confidence,
                         body.auth_env, body.auth_header, body.withdraw)
    return FeedOut.of(feeds.add(rt.client, rt.names, who, doc))


@router.delete("/feeds/{name}", status_code=204, response_class=Response)
def remove_feed(rt: Rt, who: Who, name: Annotated[schemas.FeedName, Path()]) -> Response:
    """Ends the subscription; the feed's indicators stay until they expire or are removed."""
    feeds.remove(rt.client, rt.names, who, name)
    return Response(status_code=204)


@router.post("/feeds/{name}/pull", response_model=PullOut)
async def pull_feed(rt: Rt, who: Who, name: Annotated[schemas.FeedName, Path()]) -> PullOut:
    """Pulls the feed now: 200 with the outcome (a failed pull says why), 409 while another pull runs."""
    who.require_admin(global_scope=True)
    result = await run_in_threadpool(feeds.pull, rt.client, rt.names, who, name)
    return PullOut.model_validate({**result.__dict__, "notes": result.notes or []})
