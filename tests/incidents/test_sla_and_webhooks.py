"""SLA breaches flagged and notified; webhooks signed, retried with backoff, and logged."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc.accounts import store as accounts_store
from soc.incidents import grouping, notify
from soc.incidents.service import IncidentService
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts, Clock, bearer


class Receiver:
    """A loopback HTTP receiver that fails the first ``fail`` requests with 500."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[dict[str, Any]] = []
        self.got = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.got:
                    outer.requests.append({"headers": dict(self.headers), "body": body})
                    code = 500 if len(outer.requests) <= outer.fail else 204
                    outer.got.notify_all()
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.got:
            self.got.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def test_new_incident_webhook_is_signed_and_retried(rt: Runtime, alerts: Alerts, receiver: Receiver) -> None:
    accounts_store.create_webhook(rt.client, rt.names, "soc-chat", receiver.url, ["agency-a"], "high",
                               secret="s3cret-s3cret-s3cret")
    accounts_store.create_webhook(rt.client, rt.names, "other", receiver.url, ["agency-b"], "low")
    alerts.add(severity="low")  # below the minimum: no delivery
    alerts.add(ip="10.0.0.9", severity="high")
    grouping.run(rt)
    assert rt.notifier is not None and rt.notifier.drain(10)
    got = receiver.wait_for(3)
    assert len(got) == 3  # two failures, then delivered: one event, three attempts
    bodies = {r["body"] for r in got}
    assert len(bodies) == 1
    body = got[-1]["body"]
    payload = json.loads(body)
    assert payload["event"] == "incident.created" and payload["incident"]["severity"] == "high"
    for r in got:
        assert notify.verify("s3cret-s3cret-s3cret", r["headers"][notify.SIGNATURE_HEADER], body)
    assert not notify.verify("another-secret-000", got[-1]["headers"][notify.SIGNATURE_HEADER], body)
    outcomes = [o["outcome"] for o in rt.notifier.outcomes]
    assert outcomes == ["retrying", "retrying", "delivered"]
    rt.client.indices.refresh(index=rt.names.audit)
    logged = rt.client.search(index=rt.names.audit, body={"query": {"term": {"action": "webhook.delivery"}}},
                              track_total_hits=True)
    assert logged["hits"]["total"]["value"] == 3


def test_an_unreachable_receiver_does_not_block_the_api(rt: Runtime, alerts: Alerts, api: TestClient,
                                                        tokens: dict[str, str]) -> None:
    accounts_store.create_webhook(rt.client, rt.names, "dead", "http://127.0.0.1:9/none", ["*"], "informational")
    alerts.add()
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])
    version = api.get(f"/api/v1/incidents/{iid}", headers=head).json()["version"]
    r = api.patch(f"/api/v1/incidents/{iid}", headers=head, json={"version": version, "severity": "critical"})
    assert r.status_code == 200
    assert rt.notifier is not None and rt.notifier.drain(10)
    failed = [o for o in rt.notifier.outcomes if o["outcome"] == "failed"]
    assert {o["event"] for o in failed} == {"incident.created", "incident.escalated"}
    assert all(o["attempt"] == 4 for o in failed)


def test_sla_breaches_are_flagged_once_and_notified(rt: Runtime, alerts: Alerts, clock: Clock,
                                                    receiver: Receiver, api: TestClient,
                                                    tokens: dict[str, str]) -> None:
    receiver.fail = 0
    accounts_store.create_webhook(rt.client, rt.names, "sla", receiver.url, ["agency-a"], "critical")
    alerts.add(severity="critical")  # acknowledge within 15 min, resolve within 4 h
    iid = grouping.run(rt).created[0]
    service = IncidentService(rt)
    clock.advance(minutes=14)
    assert service.check_sla() == 0
    clock.advance(minutes=2)
    assert service.check_sla() == 1
    assert service.check_sla() == 0  # flagged once
    doc = rt.incidents.get(iid).doc
    assert doc["sla"]["ack_breached"] and not doc["sla"]["resolve_breached"]
    head = bearer(tokens["analyst_a"])
    version = api.get(f"/api/v1/incidents/{iid}", headers=head).json()["version"]
    api.patch(f"/api/v1/incidents/{iid}", headers=head, json={"version": version, "status": "acknowledged"})
    clock.advance(hours=4)
    assert service.check_sla() == 1
    assert rt.notifier is not None and rt.notifier.drain(10)
    events = [json.loads(r["body"]) for r in receiver.wait_for(3)]
    assert [(e["event"], e.get("breach")) for e in events] == [
        ("incident.created", None), ("incident.sla_breach", "acknowledge"), ("incident.sla_breach", "resolve")]
    rt.incidents.refresh()
    m = api.get("/api/v1/incidents/metrics", headers=head).json()
    assert m["ack_breached"] == 1 and m["resolve_breached"] == 1 and m["mtta_seconds"] == 16 * 60
    breached = api.get("/api/v1/incidents", headers=head, params={"breached": "true"}).json()
    assert [i["id"] for i in breached["items"]] == [iid]


def test_events_published_together_reach_only_their_subscribers(rt: Runtime,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Events waiting at once share one subscription search; each still goes to exactly its hooks."""
    receivers = {name: Receiver() for name in ("a-high", "b-low", "all-medium")}
    try:
        for name, agencies, minimum in (("a-high", ["agency-a"], "high"), ("b-low", ["agency-b"], "low"),
                                        ("all-medium", ["*"], "medium")):
            accounts_store.create_webhook(rt.client, rt.names, name, receivers[name].url, agencies, minimum)
        notifier = notify.Notifier(rt.client, rt.names, max_attempts=1, mail_settings=None, allow_private=True)
        for i, (agency, severity) in enumerate((("agency-a", "critical"), ("agency-b", "low"),
                                                ("agency-a", "low"), ("agency-c", "medium"))):
            notifier.publish("incident.created", {"id": f"inc-{i}", "organization": {"id": agency},
                                                  "severity": severity})
        searches = []
        real = accounts_store.subscriptions_of

        def counting(*args: Any) -> list[dict[str, Any]]:
            searches.append(args[2])
            return real(*args)

        monkeypatch.setattr(accounts_store, "subscriptions_of", counting)
        notifier.start()
        try:
            assert notifier.drain(10)
        finally:
            notifier.stop()
        got = {name: sorted(json.loads(req["body"])["incident"]["id"] for req in r.requests)
               for name, r in receivers.items()}
        assert got == {"a-high": ["inc-0"], "b-low": ["inc-1"], "all-medium": ["inc-0", "inc-3"]}
        assert searches == ["webhook"]  # four events, one search
    finally:
        for r in receivers.values():
            r.close()
