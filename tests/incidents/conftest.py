"""Fixtures for incident tests: a runtime with a clock the test moves, alerts written in the
detection contract's shape, tokens for each role, and the app on a real OpenSearch node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc import search
from soc.accounts import store as accounts_store
from soc.alerts.documents import SEVERITY_RANK, alert_id
from soc.config import Settings
from soc.incidents.notify import Notifier
from soc.main import create_app
from soc.runtime import Runtime

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Alerts:
    rt: Runtime
    written: list[str] = field(default_factory=list)

    def add(self, rule: str = "rule-a", agency: str = "agency-a", ip: str = "10.0.0.1", at: datetime = T0,
            severity: str = "medium", events: list[dict[str, str]] | None = None, key: str | None = None,
            refresh: bool = True) -> str:
        n = len(self.written)
        aid = alert_id(rule, f"doc-{n}-{ip}-{at.isoformat()}")
        doc: dict[str, Any] = {
            "kind": "match", "created": at.isoformat(), "@timestamp": at.isoformat(),
            "rule": {"id": rule, "name": f"Rule {rule}", "level": severity, "author": "tests",
                     "reference": [], "tags": ["attack.initial-access", "attack.t1190"]},
            "threat": {"tactic": {"name": ["initial-access"]}, "technique": {"id": ["T1190"]}},
            "severity": severity, "severity_rank": SEVERITY_RANK[severity], "organization": {"id": agency},
            "events": events or [], "event_count": len(events or []) or 1,
            "group_key": key or f"source.ip={ip}", "summary": f"{rule} from {ip}",
            "first_seen": at.isoformat(), "last_seen": at.isoformat(), "source": {"ip": ip}}
        self.rt.client.index(index=self.rt.names.alerts, id=aid, body=doc, refresh=refresh)
        self.written.append(aid)
        return aid


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def rt(isolated: Settings, clock: Clock) -> Iterator[Runtime]:
    client = search.client(isolated, pool_maxsize=16, serializer=search.OrjsonSerializer())  # as the API has it
    # the tests' webhook receivers listen on loopback, which only this setting allows
    settings = replace(isolated, webhook_allow_private=True)
    runtime = Runtime(settings, client, search.names(isolated), clock=clock)
    runtime.notifier = Notifier(runtime.client, runtime.names, max_attempts=4, backoff=0.05, timeout=2.0,
                                allow_private=True)
    runtime.notifier.start()
    yield runtime
    runtime.notifier.stop()


@pytest.fixture()
def alerts(rt: Runtime) -> Alerts:
    return Alerts(rt)


@pytest.fixture()
def tokens(rt: Runtime) -> dict[str, str]:
    """A token for each role/scope the authorization tests need."""
    c, n = rt.client, rt.names
    return {
        "admin": accounts_store.create_token(c, n, "root", "admin", ["*"]),
        "analyst_a": accounts_store.create_token(c, n, "ana", "analyst", ["agency-a"]),
        "analyst_b": accounts_store.create_token(c, n, "bob", "analyst", ["agency-b"]),
        "viewer_a": accounts_store.create_token(c, n, "vic", "viewer", ["agency-a"]),
        "collector": accounts_store.create_token(c, n, "col", "collector", ["agency-a"]),
    }


@pytest.fixture()
def api(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
