"""What every console view needs: the signed-in session, its principal, the posted form, CSRF.

``Page`` is a dependency: it loads the session (or sends the browser to the login page) and
renders templates with the user's language and the agencies' time zones. ``Posted`` adds the
form body and refuses it unless it carries the session's CSRF token and comes from this origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from soc.accounts import store as accounts_store
from soc.agencies import store as agency_store
from soc.api.deps import runtime
from soc.auth import Principal
from soc.errors import Conflict, Forbidden, Invalid, NotFound, SocError
from soc.runtime import Runtime
from soc.web import render, session

MAX_FORM = 64 * 1024
STATUS = ((Forbidden, 403), (NotFound, 404), (Conflict, 409), (Invalid, 422))


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Rejected(Exception):
    """A form without the right CSRF token or from another origin: nothing is done."""


@dataclass
class Page:
    request: Request
    rt: Runtime
    session: session.Session
    _zones: dict[str, str] | None = field(default=None, repr=False)

    @property
    def who(self) -> Principal:
        return self.session.who

    @property
    def lang(self) -> str:
        return self.session.lang

    @property
    def can_write(self) -> bool:
        return self.who.role in ("admin", "analyst")

    def zones(self) -> dict[str, str]:
        if self._zones is None:
            self._zones = {str(a["id"]): str(a.get("timezone") or render.DEFAULT_ZONE)
                           for a in agency_store.search(self.rt.client, self.rt.names)}
        return self._zones

    def zone(self, agency: str | None) -> str:
        """The agency's time zone; the deployment's for several agencies or none."""
        default = self.rt.settings.timezone or render.DEFAULT_ZONE
        return self.zones().get(agency or "", default)

    def home_zone(self) -> str:
        return self.zone(self.who.agencies[0] if len(self.who.agencies) == 1 else None)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        flash = self.session.flash
        if flash:  # shown once
            accounts_store.update_session(self.rt.client, self.rt.names, self.session.secret, {"flash": None})
        return render.page(self.request, template, self.lang, status, who=self.who, csrf=self.session.csrf,
                           can_write=self.can_write, flash=flash, zone=self.zone, home_zone=self.home_zone(),
                           **context)

    def flash(self, kind: str, text: str) -> None:
        accounts_store.update_session(self.rt.client, self.rt.names, self.session.secret,
                             {"flash": {"kind": kind, "text": text[:2000]}})

    def error(self, exc: SocError) -> HTMLResponse:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
        return self.render("error.html", status=status, message=str(exc))

    def back(self, url: str, exc: SocError | None = None, done: str | None = None) -> HTMLResponse | RedirectResponse:
        """After a form: a refusal of the role is shown at once; other outcomes are flashed on ``url``."""
        if isinstance(exc, Forbidden | NotFound):
            return self.error(exc)
        if exc is not None:
            self.flash("error", str(exc))
        elif done:
            self.flash("ok", done)
        return render.redirect(url)


def page(request: Request) -> Page:
    rt = runtime(request)
    current = session.load(request, rt.client, rt.names)
    if current is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return Page(request, rt, current)


async def form_body(request: Request) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise Rejected("forms are sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Rejected("the form is too large")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise Rejected("the form could not be read") from None


def same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; when present it must be this host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


@dataclass
class Form:
    data: dict[str, list[str]]

    def one(self, name: str, default: str = "") -> str:
        values = self.data.get(name)
        return values[0].strip() if values else default

    def many(self, name: str) -> list[str]:
        return [v.strip() for v in self.data.get(name, []) if v.strip()]


def posted(request: Request, current: Annotated[Page, Depends(page)],
           data: Annotated[dict[str, list[str]], Depends(form_body)]) -> tuple[Page, Form]:
    form = Form(data)
    if not same_origin(request) or not session.same(form.one("csrf"), current.session.csrf):
        raise Rejected("the form's security token is missing or out of date; reload the page")
    return current, form


def login_url(next_url: str) -> str:
    return "/console/login?next=" + quote(next_url, safe="")


def safe_next(value: str | None) -> str:
    """Only a console path of this site is a place to go after login (no open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/incidents"


Current = Annotated[Page, Depends(page)]
Posted = Annotated[tuple[Page, Form], Depends(posted)]
