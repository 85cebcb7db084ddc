"""Sign-in hardening over HTTP against the real node: throttling that never locks out a correct
password, forwarded headers believed only from trusted proxies, Secure cookies behind a TLS
proxy, sessions ended by a password change, and unknown names costing a password hash."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.main import create_app
from soc.runtime import Runtime
from tests.web import world as w

FAST = {"login_free_failures_per_account": 5, "login_free_failures_per_address": 30,
        "login_delay_seconds": 0.5, "login_max_delay_seconds": 1.0}


@pytest.fixture()
def serve(isolated: Settings) -> Iterator[Any]:
    client, names = search.client(isolated), search.names(isolated)
    for name in ("ana", "bob"):
        accounts_store.create_user(client, names, name, "analyst", [w.AGENCY], w.PASSWORD)
    stack: list[Any] = []

    def start(**changes: Any) -> httpx.Client:
        settings = replace(isolated, **(FAST | changes))
        ctx = w.serve(create_app(runtime=Runtime.build(settings)))
        url = ctx.__enter__()
        stack.append(ctx)
        http = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
        stack.append(http)
        return http

    yield start
    for item in reversed(stack):
        item.__exit__(None, None, None)


def sign_in(http: httpx.Client, name: str, password: str = w.PASSWORD, **headers: str) -> httpx.Response:
    page = http.get("/console/login", headers=headers)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return http.post("/console/login", headers={"Origin": str(http.base_url).rstrip("/"), **headers},
                     data={"csrf": found.group(1), "name": name, "password": password, "next": "/console/incidents",
                           "lang": "en"})


def test_failures_slow_down_but_never_lock_out_a_correct_password(serve: Any) -> None:
    http = serve()
    for _ in range(20):  # 20 bad logins against bob from this address
        assert sign_in(http, "bob", "wrong password!").status_code in (401, 429)
    assert sign_in(http, "ana").status_code == 303  # another user from the same address is not locked out
    http.cookies.clear()
    wait = sign_in(http, "bob", "wrong password!")
    if wait.status_code == 429:  # honour the delay, then fail once more: bob's latest failure is now
        time.sleep(float(wait.headers["retry-after"]))
        assert sign_in(http, "bob", "wrong password!").status_code == 401
    limited = sign_in(http, "bob")  # within the delay even the right password waits
    assert limited.status_code == 429 and "Try again in" in limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    time.sleep(float(limited.headers["retry-after"]))
    assert sign_in(http, "bob").status_code == 303  # the right password after the delay


def test_forwarded_for_is_believed_only_from_trusted_proxies(serve: Any) -> None:
    spoofing = serve(login_free_failures_per_address=3, login_max_delay_seconds=30, login_delay_seconds=30)
    for n in range(3):  # each attempt claims another client address: ignored, all from 127.0.0.1
        sign_in(spoofing, f"nobody{n}", "wrong password!", **{"X-Forwarded-For": f"203.0.113.{n}"})
    assert sign_in(spoofing, "ana", **{"X-Forwarded-For": "203.0.113.99"}).status_code == 429
    proxied = serve(login_free_failures_per_address=3, login_max_delay_seconds=30, login_delay_seconds=30,
                    trusted_proxies="127.0.0.0/8")
    for n in range(3):  # behind a trusted proxy, one client address fails three times
        sign_in(proxied, f"other{n}", "wrong password!", **{"X-Forwarded-For": "spoofed, 198.51.100.7"})
    assert sign_in(proxied, "bob", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    assert sign_in(proxied, "bob", **{"X-Forwarded-For": "198.51.100.8"}).status_code == 303  # another client


def test_secure_cookies_behind_a_tls_proxy(serve: Any) -> None:
    plain = serve()
    assert "secure" not in sign_in(plain, "ana").headers["set-cookie"].lower()
    forced = serve(secure_cookies=True)
    assert "secure" in sign_in(forced, "ana").headers["set-cookie"].lower()
    proxied = serve(trusted_proxies="127.0.0.1")
    assert "secure" in sign_in(proxied, "ana", **{"X-Forwarded-Proto": "https"}).headers["set-cookie"].lower()
    untrusted = serve(trusted_proxies="192.0.2.1")
    assert "secure" not in sign_in(untrusted, "bob", **{"X-Forwarded-Proto": "https"}).headers["set-cookie"].lower()


def test_a_password_change_ends_the_users_other_sessions(serve: Any, isolated: Settings) -> None:
    first, second, other = serve(), serve(), serve()
    assert sign_in(first, "ana").status_code == 303 and sign_in(second, "ana").status_code == 303
    assert sign_in(other, "bob").status_code == 303
    assert first.get("/console/incidents").status_code == 200
    accounts_store.update_user(search.client(isolated), search.names(isolated), "ana",
                               {"password": "a new long password"})
    assert first.get("/console/incidents").status_code == 303  # back to the sign-in page
    assert second.get("/console/incidents").status_code == 303
    assert other.get("/console/incidents").status_code == 200  # bob's session is untouched
    assert sign_in(first, "ana", "a new long password").status_code == 303


def test_an_unknown_user_costs_the_same_as_a_wrong_password(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    accounts_store.create_user(client, names, "ana", "analyst", [w.AGENCY], w.PASSWORD)
    accounts_store.check_password(client, names, "nobody", "warm up the dummy hash")

    def cost(name: str) -> float:
        started = time.perf_counter()
        for _ in range(5):
            assert accounts_store.check_password(client, names, name, "wrong password!") is None
        return time.perf_counter() - started

    wrong, unknown = cost("ana"), cost("nobody-at-all")
    assert unknown > 0.5 * wrong, (unknown, wrong)
