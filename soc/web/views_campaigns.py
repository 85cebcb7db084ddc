"""The province view: attackers seen by two or more agencies (each reader sees their own part)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from soc.campaigns import service
from soc.errors import SocError
from soc.web.context import Current

router = APIRouter()


DAYS = (1, 7, 30, 90)  # the windows the page offers (the API takes any time within 90 days)


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(request: Request, current: Current) -> Response:
    asked = request.query_params.get("days", "")
    days = int(asked) if asked.isdigit() and int(asked) in DAYS else service.WINDOW.days
    try:
        found = service.campaigns(current.rt, current.who, current.rt.clock() - timedelta(days=days))
    except SocError as exc:
        return current.error(exc)
    return current.render("campaigns.html", items=found["items"], since=found["since"],
                          everywhere=current.who.everywhere, window_days=days, choices=DAYS)
