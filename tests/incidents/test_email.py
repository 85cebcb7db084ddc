"""E-mail notifications per agency and minimum severity, retried with backoff and audited,
against a real SMTP server on the loopback interface."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from soc.accounts import store as accounts_store
from soc.incidents import grouping
from soc.incidents.mail import MailSettings
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts, bearer


class Relay:
    """Refuses the first ``fail`` messages with a temporary error (451), accepts the rest."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.attempts = 0
        self.accepted: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.fail:
            return "451 4.3.0 try again later"
        self.accepted.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def relay() -> Iterator[tuple[Relay, MailSettings]]:
    handler = Relay(fail=2)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, MailSettings("127.0.0.1", port, sender="soc@example.org", timeout=5)
    controller.stop()


def _audit(rt: Runtime, action: str) -> list[dict[str, Any]]:
    rt.client.indices.refresh(index=rt.names.audit)
    resp = rt.client.search(index=rt.names.audit, body={"size": 100, "query": {"term": {"action": action}}})
    return [h["_source"] for h in resp["hits"]["hits"]]


def test_incidents_are_mailed_per_agency_and_severity_with_retries(rt: Runtime, alerts: Alerts,
                                                                   relay: tuple[Relay, MailSettings]) -> None:
    handler, settings = relay
    assert rt.notifier is not None
    rt.notifier.mail = settings
    accounts_store.create_email(rt.client, rt.names, "team-a", ["soc-a@example.org"], ["agency-a"], "high")
    accounts_store.create_email(rt.client, rt.names, "team-b", ["soc-b@example.org"], ["agency-b"], "low")
    accounts_store.create_email(rt.client, rt.names, "ciso", ["ciso@example.org"], ["*"], "critical")
    alerts.add(severity="low")  # agency-a below its minimum: no mail
    # The entity comes from log content: a line break in it must not become a header.
    alerts.add(ip="10.0.0.7", severity="high", key="user.name=x\r\nBcc: thief@example.net")
    [low, high] = sorted(grouping.run(rt).created, key=lambda i: rt.incidents.get(i).doc["severity_rank"])
    assert rt.notifier.drain(15)
    assert handler.attempts == 3 and len(handler.accepted) == 1  # two refusals, then accepted
    envelope = handler.accepted[0]
    assert envelope.rcpt_tos == ["soc-a@example.org"] and envelope.mail_from == "soc@example.org"
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Bcc"] is None and "thief" not in str(msg["To"])
    assert msg["Subject"].startswith("[SOC high] incident.created: Rule rule-a (user.name=x  Bcc: thief")
    assert msg["X-SOC-Event"] == "incident.created"
    assert f"Id: {high}" in msg.get_content() and low not in msg.get_content()
    mails = [o for o in rt.notifier.outcomes if o["channel"] == "email"]
    assert [(o["outcome"], o["status"]) for o in mails] == [("retrying", 451), ("retrying", 451), ("delivered", 250)]
    logged = _audit(rt, "email.delivery")
    assert len(logged) == 3 and {e["object_type"] for e in logged} == {"email"}
    assert {e["details"]["incident_id"] for e in logged} == {high}


def test_an_unreachable_relay_fails_after_the_last_attempt(rt: Runtime, alerts: Alerts) -> None:
    assert rt.notifier is not None
    rt.notifier.mail = MailSettings("127.0.0.1", _free_port(), timeout=2)  # nothing listens there
    accounts_store.create_email(rt.client, rt.names, "team-a", ["soc-a@example.org"], ["agency-a"], "informational")
    alerts.add()
    grouping.run(rt)
    assert rt.notifier.drain(15)
    mails = [o for o in rt.notifier.outcomes if o["channel"] == "email"]
    assert [o["outcome"] for o in mails] == ["retrying"] * 3 + ["failed"]
    assert all(o["error"] for o in mails)


def test_email_subscriptions_through_the_api(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    admin, analyst = bearer(tokens["admin"]), bearer(tokens["analyst_a"])
    spec = {"name": "team-a", "to": ["soc-a@example.org"], "agencies": ["agency-a"], "min_severity": "medium"}
    assert api.post("/api/v1/emails", headers=analyst, json=spec).status_code == 403
    bad = api.post("/api/v1/emails", headers=admin, json=spec | {"to": ["not an address\r\nBcc: x@y.z"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("body.to")
    assert api.post("/api/v1/emails", headers=admin, json=spec | {"extra": 1}).status_code == 422
    made = api.post("/api/v1/emails", headers=admin, json=spec)
    assert made.status_code == 201
    sub = made.json()
    assert sub["to"] == ["soc-a@example.org"] and sub["min_severity"] == "medium"
    assert [s["id"] for s in api.get("/api/v1/emails", headers=admin).json()] == [sub["id"]]
    assert api.delete(f"/api/v1/emails/{sub['id']}", headers=admin).status_code == 204
    assert api.delete(f"/api/v1/emails/{sub['id']}", headers=admin).status_code == 404
    assert api.get("/api/v1/emails", headers=admin).json() == []
    actions = sorted(e["action"] for e in _audit(rt, "email.create") + _audit(rt, "email.delete"))
    assert actions == ["email.create", "email.delete"]
