"""Console security over plain HTTP against the real node: headers, cookies, CSRF, login rate
limit, token sign-in, scope, and sessions that end when the user is disabled or signs out."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from soc.accounts import store as accounts_store
from soc.auth import token_hash
from tests.web import world as w


@pytest.fixture()
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=30) as client:
        yield client


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(http: httpx.Client, name: str, password: str = w.PASSWORD, token: str = "") -> httpx.Response:
    page = http.get("/console/login")
    return http.post("/console/login", data={"csrf": _token(page.text), "name": name, "password": password,
                                             "token": token, "next": "/console/incidents", "lang": "en"},
                     headers={"Origin": str(http.base_url).rstrip("/")})


def test_headers_and_cookie_flags(http: httpx.Client) -> None:
    page = http.get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["x-content-type-options"] == "nosniff"
    resp = sign_in(http, "ana")
    assert resp.status_code == 303 and resp.headers["location"] == "/console/incidents"
    cookie = next(v for k, v in resp.headers.multi_items() if k == "set-cookie" and v.startswith("soc_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; under TLS the flag is set


def test_unauthenticated_reads_and_writes_go_to_login(http: httpx.Client, world: w.World) -> None:
    incident = next(iter(world.incidents.values()))
    before = world.rt.incidents.get(incident).version
    resp = http.get(f"/console/incidents/{incident}")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/console/login?next=")
    resp = http.post(f"/console/incidents/{incident}/acknowledge", data={"csrf": "x", "version": str(before)})
    assert resp.status_code == 303 and "/console/login" in resp.headers["location"]
    assert world.rt.incidents.get(incident).version == before  # nothing was written


def test_forms_without_the_session_token_are_refused(http: httpx.Client, world: w.World) -> None:
    incident = world.incident("Cross-Site Scripting", w.HOSTILE_IP)
    assert sign_in(http, "ana").status_code == 303
    before = world.doc(incident)
    page = http.get(f"/console/incidents/{incident}")
    version = re.search(r'name="version" value="([^"]+)"', page.text)
    for data, headers in (({"version": version.group(1) if version else "0-1"}, {}),  # no token
                          ({"csrf": "forged", "version": "0-1"}, {}),
                          ({"csrf": _token(page.text), "version": "0-1"}, {"Origin": "https://evil.example"})):
        resp = http.post(f"/console/incidents/{incident}/assign", data=data, headers=headers)
        assert resp.status_code == 403
    assert world.doc(incident)["assignee"] == before["assignee"]


def test_login_is_rate_limited(http: httpx.Client) -> None:
    for _ in range(5):
        assert sign_in(http, "bob", "wrong password!").status_code == 401
    limited = sign_in(http, "bob")  # the right password waits too, for a while
    assert limited.status_code == 429
    assert "Too many failed attempts" in limited.text
    time.sleep(float(limited.headers["retry-after"]))
    assert sign_in(http, "bob").status_code == 303  # slowed down, never locked out


def test_token_sign_in_and_agency_scope(http: httpx.Client, world: w.World) -> None:
    client, names = world.rt.client, world.rt.names
    token = accounts_store.create_user_token(client, names, "bob", "console test")
    resp = sign_in(http, "", "", token=token)
    assert resp.status_code == 303
    queue = http.get("/console/incidents")
    assert "0 incidents match" in queue.text  # bob works for agency-b only
    incident = next(iter(world.incidents.values()))
    assert http.get(f"/console/incidents/{incident}").status_code == 404  # absent, not forbidden
    accounts_store.revoke_token(client, names, f"token-{token_hash(token)[:32]}")
    assert http.get("/console/incidents").status_code == 303  # the session ends with its token


def test_disabled_user_and_sign_out_end_the_session(http: httpx.Client, world: w.World) -> None:
    client, names = world.rt.client, world.rt.names
    accounts_store.create_user(client, names, "tmp", "analyst", [w.AGENCY], w.PASSWORD)
    assert sign_in(http, "tmp").status_code == 303
    assert http.get("/console/incidents").status_code == 200
    accounts_store.update_user(client, names, "tmp", {"disabled": True})
    assert http.get("/console/incidents").status_code == 303
    accounts_store.update_user(client, names, "tmp", {"disabled": False})
    assert sign_in(http, "tmp").status_code == 303
    page = http.get("/console/incidents")
    old = http.cookies.get("soc_session")
    resp = http.post("/console/logout", data={"csrf": _token(page.text)},
                     headers={"Origin": str(http.base_url).rstrip("/")})
    assert resp.status_code == 303
    http.cookies.set("soc_session", old or "", path="/console")  # a copied cookie is worthless afterwards
    assert http.get("/console/incidents").status_code == 303


def test_open_redirect_is_refused(http: httpx.Client) -> None:
    page = http.get("/console/login")
    resp = http.post("/console/login", data={"csrf": _token(page.text), "name": "ana", "password": w.PASSWORD,
                                             "next": "//evil.example/x", "lang": "en"})
    assert resp.status_code == 303 and resp.headers["location"] == "/console/incidents"


def test_the_service_root_opens_the_console(http: httpx.Client) -> None:
    resp = http.get("/")
    assert resp.status_code == 303 and resp.headers["location"] == "/console/incidents"
    assert http.get("/console/incidents").headers["location"].startswith("/console/login")
