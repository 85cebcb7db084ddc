"""The province view: attackers seen by two or more agencies (each reader sees their own part)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from soc.campaigns import service
from soc.errors import SocError
from soc.web.context import Current

router = APIRouter()


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(current: Current) -> Response:
    try:
        found = service.campaigns(current.rt, current.who)
    except SocError as exc:
        return current.error(exc)
    return current.render("campaigns.html", items=found["items"], since=found["since"],
                          everywhere=current.who.everywhere, window_days=service.WINDOW.days)
