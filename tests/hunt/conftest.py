"""Fixtures for hunting tests: the app on the real node, tokens per role and agency, and events written
into the agencies' data streams the way every writer does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.detection import store as detection_store
from soc.runtime import Runtime
from tests.incidents.conftest import api, bearer  # the app on this package's runtime, and the header

__all__ = ["api", "bearer"]

NOW = datetime.now(UTC).replace(microsecond=0)


def web(ip: str, path: str, status: int = 200, agency: str = "agency-a", ago: float = 10, user: str | None = None,
        ua: str = "Mozilla/5.0", **extra: Any) -> dict[str, Any]:
    """An access-log event ``ago`` minutes before the session started."""
    when = NOW - timedelta(minutes=ago)
    line = f'{ip} - {user or "-"} [{when:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" {status} 12 "-" "{ua}"'
    doc: dict[str, Any] = {
        "@timestamp": when.isoformat().replace("+00:00", "Z"), "organization": {"id": agency},
        "event": {"dataset": "nginx.access", "original": line}, "source": {"ip": ip},
        "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
        "url": {"original": path, "path": path.split("?")[0]}, "user_agent": {"original": ua},
        "host": {"name": "Web01"}}
    if user:
        doc["user"] = {"name": user}
    return doc | extra


def index(rt: Runtime, events: list[dict[str, Any]]) -> None:
    detection_store.index_events(rt.client, rt.names, events)


@pytest.fixture()
def rt(isolated: Settings) -> Runtime:
    client = search.client(isolated, pool_maxsize=8, serializer=search.OrjsonSerializer())
    return Runtime(isolated, client, search.names(isolated))


@pytest.fixture()
def tokens(rt: Runtime) -> dict[str, str]:
    c, n = rt.client, rt.names
    return {
        "admin": accounts_store.create_token(c, n, "root", "admin", ["*"]),
        "analyst_a": accounts_store.create_token(c, n, "ana", "analyst", ["agency-a"]),
        "analyst_a2": accounts_store.create_token(c, n, "anh", "analyst", ["agency-a"]),
        "analyst_b": accounts_store.create_token(c, n, "bob", "analyst", ["agency-b"]),
        "collector": accounts_store.create_token(c, n, "col", "collector", ["agency-a"]),
    }

