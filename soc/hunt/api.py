"""/api/v1/search (search, export, saved searches) and /api/v1/rules/preview (the rule lab)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from soc.api.deps import Rt, Who
from soc.hunt import export, preview, saved
from soc.hunt.schemas import ExportIn, PreviewIn, PreviewOut, SavedIn, SavedOut, SearchIn, SearchOut
from soc.hunt.service import SearchService

router = APIRouter(tags=["hunt"])
SavedId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="a saved search id")]
QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the query does not parse or costs too much; `position` says where"}}


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/search", response_model=SearchOut, responses=QUERY_ERRORS,
             summary="Search the logs of the caller's agencies (a page, with facets and a histogram)")
def search_logs(rt: Rt, who: Who, body: SearchIn) -> Response:
    """`next` is an opaque cursor: send the same request with `cursor` set to it for the next page. Pages
    come from one point in time, so events that arrive meanwhile do not shift them. Facets and the
    histogram describe the whole result (every matching event of the window, not the page), so they are
    computed once, with the first page; later pages (with `cursor`) answer them empty."""
    return _json(SearchService(rt.client, rt.names).search(who, body, _now()))


@router.post("/search/export", response_class=Response, responses={
    200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}, **QUERY_ERRORS})
def export_logs(rt: Rt, who: Who, body: ExportIn,
                format: Annotated[Literal["csv", "ndjson"], Query()] = "csv") -> Response:
    """Up to `limit` (at most 10000) events as CSV (formula-neutralised) or NDJSON."""
    rows = list(SearchService(rt.client, rt.names).export(who, body, _now()))
    data: str | bytes
    if format == "csv":
        data, media = export.to_csv(rows, body.fields), "text/csv; charset=utf-8"
    else:
        data, media = export.to_ndjson(rows, body.fields), "application/x-ndjson"
    headers = {"Content-Disposition": f'attachment; filename="events.{format}"', "X-Content-Type-Options": "nosniff",
               "X-Result-Rows": str(len(rows))}
    return Response(content=data, media_type=media, headers=headers)


@router.get("/search/saved", response_model=list[SavedOut],
            summary="Your saved searches and your agencies' shared ones")
def list_saved(rt: Rt, who: Who) -> Response:
    return _json(saved.listing(rt.client, rt.names, who))


@router.post("/search/saved", response_model=SavedOut, status_code=201, responses=QUERY_ERRORS)
def create_saved(rt: Rt, who: Who, body: SavedIn) -> Response:
    return _json(saved.create(rt.client, rt.names, who, body, _now()), 201)


@router.get("/search/saved/{saved_id}", response_model=SavedOut)
def get_saved(rt: Rt, who: Who, saved_id: SavedId) -> Response:
    return _json(saved.get(rt.client, rt.names, who, saved_id))


@router.delete("/search/saved/{saved_id}", status_code=204)
def delete_saved(rt: Rt, who: Who, saved_id: SavedId) -> Response:
    saved.delete(rt.client, rt.names, who, saved_id)
    return Response(status_code=204)


@router.post("/rules/preview", response_model=PreviewOut, summary="What a Sigma rule would have raised over a window")
def preview_rule(rt: Rt, who: Who, body: PreviewIn) -> Response:
    """The engine's own conversion, field mapping and queries over the window's events (event time);
    correlations are judged into episodes as the engine does. A rule that does not parse or convert is
    a 422 with the reason."""
    return _json(preview.preview(rt.client, rt.names, who, body, _now()))
