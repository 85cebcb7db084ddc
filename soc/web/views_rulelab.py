"""The rule lab page: paste a Sigma rule (or a correlation with its rules), pick a time range, and see
what it would have raised over the caller's agencies (``soc.hunt.preview``, the engine's own pieces).
Nothing is written; the form carries the CSRF token like every console form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from soc.errors import SocError
from soc.hunt import preview
from soc.hunt.schemas import PreviewIn
from soc.web.context import Current, Page, Posted
from soc.web.views_search import RANGES

router = APIRouter()
SHOWN = 50


def _page(current: Page, rule: str, span: str, result: dict[str, Any] | None = None,
          error: str | None = None) -> HTMLResponse:
    return current.render("rulelab.html", rule=rule, span=span, ranges=list(RANGES), result=result, error=error)


@router.get("/rules/lab", response_class=HTMLResponse)
def lab_page(current: Current) -> Response:
    try:
        current.who.require_reader()
    except SocError as exc:
        return current.error(exc)
    return _page(current, "", "7d")


@router.post("/rules/lab", response_class=HTMLResponse)
def lab_run(posted: Posted) -> Response:
    current, form = posted
    rule = form.data.get("rule", [""])[0]
    span = form.one("range", "7d")
    span = span if span in RANGES else "7d"
    now = datetime.now(UTC)
    try:
        req = PreviewIn.model_validate({"rule": rule, "from": now - RANGES[span], "to": now, "size": SHOWN})
        result = preview.preview(current.rt.client, current.rt.names, current.who, req, now)
    except ValidationError as exc:
        return _page(current, rule, span, error="; ".join(str(e["msg"]) for e in exc.errors()))
    except SocError as exc:
        return _page(current, rule, span, error=str(exc))
    return _page(current, rule, span, result=result)
