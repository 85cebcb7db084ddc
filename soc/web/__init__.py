"""The analyst console: server-rendered pages under /console, on the same services as the API.

``mount(app)`` adds the pages, the static files and the console's two error pages (sign in
first; a form without its security token) to the application built by ``soc.main.create_app``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from soc.accounts.limiter import LoginLimiter, SharedLoginLimiter, Throttle
from soc.detection import settings as detection_settings
from soc.web import i18n, render
from soc.web.context import LoginRequired, Rejected, login_url
from soc.web.proxy import ProxyPolicy, parse_networks
from soc.web.rulebook import Rulebook

PREFIX = "/console"
STATIC = Path(__file__).with_name("static")


def router() -> APIRouter:
    from soc.web import (
        views_auth,
        views_campaigns,
        views_catalog,
        views_incident,
        views_queue,
        views_rulelab,
        views_search,
    )

    top = APIRouter(include_in_schema=False)
    pages = APIRouter(prefix=PREFIX)

    @top.get("/")  # the service's root opens the console
    @pages.get("")
    @pages.get("/")
    def home() -> Response:
        return render.redirect(f"{PREFIX}/incidents")

    pages.include_router(views_rulelab.router)  # /rules/lab before the catalog's /rules pages
    for module in (views_auth, views_queue, views_incident, views_catalog, views_search, views_campaigns):
        pages.include_router(module.router)
    top.include_router(pages)
    return top


def mount(app: FastAPI, limiter: LoginLimiter | None = None) -> None:
    """Add the console to ``app``; without a limiter, login failures are counted in OpenSearch for
    every service process together (``app.state.runtime``), or in this process when there is none."""
    rt = getattr(app.state, "runtime", None)
    throttle = Throttle()
    if rt is not None:
        s = rt.settings
        throttle = Throttle(s.login_free_failures_per_account, s.login_free_failures_per_address,
                            s.login_delay_seconds, s.login_max_delay_seconds)
        app.state.console_proxy = ProxyPolicy(parse_networks(s.trusted_proxies), s.secure_cookies)
    app.state.console_limiter = limiter or (SharedLoginLimiter(rt.client, rt.names, throttle) if rt
                                            else LoginLimiter(throttle))
    app.state.console_rulebook = Rulebook(detection_settings.load())
    app.include_router(router())
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(LoginRequired)
    async def login_first(request: Request, exc: LoginRequired) -> Response:
        return render.redirect(login_url(exc.next_url))

    @app.exception_handler(Rejected)
    async def rejected(request: Request, exc: Rejected) -> Response:
        lang = i18n.from_accept_language(request.headers.get("accept-language"))
        return render.page(request, "refused.html", lang, 403, message=str(exc))
