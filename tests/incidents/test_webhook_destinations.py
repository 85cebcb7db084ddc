"""Webhooks may not point into the SOC's own network (loopback, link-local, private) unless the
operator allows it: refused with a 4xx and the reason at creation, and again before delivery."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from soc.accounts import store as accounts_store
from soc.errors import Invalid
from soc.incidents import destinations, grouping
from soc.incidents.notify import Notifier
from soc.main import create_app
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts, bearer


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),  # a name: resolved, and every address checked
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("https://10.20.30.40/hook", "private"),
    ("https://192.168.1.10/hook", "private"),
    ("http://0.0.0.0/hook", "unspecified"),
])
def test_non_public_destinations_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(Invalid, match=f"a {why} address"):
        destinations.check(url, allow_private=False)
    destinations.check(url, allow_private=True)  # the operator's setting lets them through


def test_bad_urls_are_refused_whatever_the_setting() -> None:
    for url in ("ftp://example.org/x", "file:///etc/passwd", "http:///nohost", "https://u:p@203.0.113.9/"):
        with pytest.raises(Invalid):
            destinations.check(url, allow_private=True)
    with pytest.raises(Invalid, match="cannot be resolved"):
        destinations.check("https://no-such-host.invalid/hook", allow_private=False)
    destinations.check("https://8.8.8.8/hook", allow_private=False)  # a public literal address passes


def test_the_api_refuses_a_loopback_webhook_with_a_4xx_and_a_reason(rt: Runtime, tokens: dict[str, str]) -> None:
    strict = replace(rt, settings=replace(rt.settings, webhook_allow_private=False))
    with TestClient(create_app(runtime=strict)) as api:
        body = {"name": "internal", "url": "http://127.0.0.1:9/hook", "agencies": ["*"], "min_severity": "low"}
        r = api.post("/api/v1/webhooks", headers=bearer(tokens["admin"]), json=body)
        assert r.status_code == 422, r.text
        assert "loopback" in r.json()["detail"] and "webhook_allow_private" in r.json()["detail"]
        assert api.get("/api/v1/webhooks", headers=bearer(tokens["admin"])).json() == []
        body["url"] = "https://8.8.8.8/hook"  # a public address is taken (creating one sends nothing)
        r = api.post("/api/v1/webhooks", headers=bearer(tokens["admin"]), json=body)
        assert r.status_code == 201, r.text


def test_delivery_checks_the_destination_again(rt: Runtime, alerts: Alerts) -> None:
    # stored directly (as if created while allowed, or a name now resolving to loopback)
    accounts_store.create_webhook(rt.client, rt.names, "inside", "http://127.0.0.1:9/hook", ["*"], "informational")
    notifier = Notifier(rt.client, rt.names, max_attempts=3, backoff=0.01, mail_settings=None)
    fixture_notifier, rt.notifier = rt.notifier, notifier
    notifier.start()
    try:
        alerts.add()
        grouping.run(rt)
        assert notifier.drain(10)
    finally:
        notifier.stop()
        rt.notifier = fixture_notifier
    assert [o["outcome"] for o in notifier.outcomes] == ["failed"]  # refused once, not retried
    assert "loopback" in notifier.outcomes[0]["error"]
