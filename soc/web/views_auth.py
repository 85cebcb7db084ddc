"""Signing in (password or API token), signing out, and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc.accounts import store as accounts_store
from soc.accounts.limiter import LoginLimiter
from soc.api.deps import runtime
from soc.auth import TOKEN_PREFIX, token_hash
from soc.web import i18n, proxy, render, session
from soc.web.context import Form, Posted, Rejected, form_body, safe_next, same_origin

router = APIRouter()
LOGIN_TTL = 3600


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.console_limiter
    return limiter


def _login_page(request: Request, lang: str, status: int = 200, error: str | None = None,
                name: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render.page(request, "login.html", lang, status, login_csrf=token, error=error, name=name,
                           next=safe_next(request.query_params.get("next")))
    session.set_cookie(response, request, session.LOGIN_COOKIE, token, LOGIN_TTL)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    lang = i18n.pick(request.query_params.get("lang")) if request.query_params.get("lang") else (
        i18n.from_accept_language(request.headers.get("accept-language")))
    return _login_page(request, lang)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, data: Annotated[dict[str, list[str]], Depends(form_body)]) -> Response:
    form = Form(data)
    lang = i18n.pick(form.one("lang", i18n.DEFAULT_LANG))
    if not same_origin(request) or not session.same(form.one("csrf"), request.cookies.get(session.LOGIN_COOKIE)):
        return _login_page(request, lang, 403, i18n.translate(lang, "login.expired"))
    rt = runtime(request)
    name, password, token = form.one("name")[:64], form.data.get("password", [""])[0], form.one("token")[:200]
    address = proxy.policy(request).client_address(request)
    account = name or (token_hash(token)[:16] if token else "")
    limiter = _limiter(request)
    wait, ticket = limiter.attempt(address, account)  # counted as a failure until it succeeds
    if wait > 0:
        text = i18n.translate(lang, "login.limited", seconds=int(wait) + 1)
        limited = _login_page(request, lang, 429, text, name)
        limited.headers["Retry-After"] = str(int(wait) + 1)
        return limited
    if token:
        who = accounts_store.principal_for_token(rt.client, rt.names, token) if token.startswith(TOKEN_PREFIX) else None
        user, token_id = None, f"token-{token_hash(token)[:32]}"
    else:
        # an unknown name costs the same password hashing as a wrong password
        who = accounts_store.check_password(rt.client, rt.names, name, password) if name else None
        user, token_id = name, None
    if who is None or who.role not in ("admin", "analyst", "viewer"):
        return _login_page(request, lang, 401, i18n.translate(lang, "login.failed"), name)
    limiter.succeeded(address, account, ticket)
    lang = accounts_store.get_language(rt.client, rt.names, who.name) or lang
    secret = session.start(rt.client, rt.names, who, user, token_id, lang)
    response = render.redirect(safe_next(form.one("next")))
    session.set_cookie(response, request, session.COOKIE, secret, int(session.LIFETIME.total_seconds()))
    session.clear_cookie(response, request, session.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, posted: Posted) -> RedirectResponse:
    current, _ = posted
    accounts_store.delete_session(current.rt.client, current.rt.names, current.session.secret)
    response = render.redirect("/console/login")
    session.clear_cookie(response, request, session.COOKIE)
    return response


@router.post("/lang")
def switch_language(posted: Posted) -> RedirectResponse:
    current, form = posted
    lang = form.one("lang")
    if lang not in i18n.LANGS:
        raise Rejected(f"unknown language {lang!r}")
    accounts_store.update_session(current.rt.client, current.rt.names, current.session.secret, {"lang": lang})
    accounts_store.set_language(current.rt.client, current.rt.names, current.who.name, lang)
    return render.redirect(safe_next(form.one("next")))
