"""Pages: the Jinja2 environment (autoescaping everything), formatting helpers, security headers.

Nothing from logs, alerts or users is marked safe anywhere: templates print values with the
default escaping, and the policy below lets the browser run only this console's own script file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from soc.alerts.documents import LATE_NOTICE_S
from soc.web import i18n

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes browsers send "Origin: null" on forms
    "Cache-Control": "no-store",
}


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.globals["late_notice_s"] = LATE_NOTICE_S
    return env


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(text: str | None, zone: str = DEFAULT_ZONE) -> str:
    """An ISO time as the agency reads it: ``2026-11-27 07:36:05 +07``."""
    value = parse(text)
    if value is None:
        return "—"
    local = value.astimezone(_zone(zone))
    offset = local.strftime("%z")
    short = offset[:3] if offset.endswith("00") else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%d %H:%M:%S ") + short


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def page(request: Request, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    def t(key: str, **values: Any) -> str:
        return i18n.translate(lang, key, **values)

    html = environment().get_template(template).render(
        request=request, lang=lang, t=t, langs=i18n.LANGS, path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    secure(response)
    return response


def redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    secure(response)
    return response
