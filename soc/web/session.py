"""Console sessions: a random cookie value naming a stored session, CSRF tokens, cookie flags.

The cookie holds 256 random bits; OpenSearch holds only its hash. Each request re-reads the
session and the user (or token) behind it, so disabling a user, changing a role or revoking a
token takes effect at the next click. Every state-changing form carries the session's CSRF token;
the login form, used before a session exists, carries a token that must equal a cookie set with it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response
from opensearchpy import OpenSearch

from soc.accounts import store as accounts_store
from soc.auth import Principal
from soc.search import Names
from soc.web import i18n, proxy

COOKIE = "soc_session"
LOGIN_COOKIE = "soc_login"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    secret: str
    who: Principal
    csrf: str
    lang: str
    flash: dict[str, str] | None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def _live_principal(client: OpenSearch, names: Names, doc: dict[str, Any], now: datetime) -> Principal | None:
    """The principal as it is now: a disabled user or a revoked or expired token ends the session."""
    if doc.get("token_id"):
        token = accounts_store.get_doc(client, names, str(doc["token_id"]))
        if not token or token.get("kind") != "token" or token.get("disabled"):
            return None
        if token.get("expires") and datetime.fromisoformat(token["expires"]) <= now:
            return None
        if not token.get("user"):
            return Principal(token["name"], token["role"], tuple(token["agencies"]))
        doc = doc | {"user": token["user"]}
    user = accounts_store.get_doc(client, names, f"user-{doc.get('user')}")
    if not user or user.get("kind") != "user" or user.get("disabled"):
        return None
    return Principal(user["name"], user["role"], tuple(user["agencies"]))


def load(request: Request, client: OpenSearch, names: Names) -> Session | None:
    secret = request.cookies.get(COOKIE)
    if not secret or len(secret) > 100:
        return None
    doc = accounts_store.get_session(client, names, secret)
    now = datetime.now(UTC)
    if doc is None or datetime.fromisoformat(doc["expires"]) <= now:
        return None
    who = _live_principal(client, names, doc, now)
    if who is None:
        return None
    return Session(secret, who, doc["csrf"], i18n.pick(doc.get("lang")), doc.get("flash"))


def start(client: OpenSearch, names: Names, who: Principal, user: str | None, token_id: str | None,
          lang: str) -> str:
    secret = new_secret()
    now = datetime.now(UTC)
    accounts_store.create_session(client, names, secret, {
        "name": who.name, "user": user, "token_id": token_id, "csrf": secrets.token_urlsafe(32), "lang": lang,
        "flash": None, "created": now.isoformat(), "expires": (now + LIFETIME).isoformat()})
    return secret


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True, samesite="strict",
                        secure=proxy.policy(request).secure(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/console", httponly=True, samesite="strict",
                           secure=proxy.policy(request).secure(request))
