"""The coverage endpoint (every rule loaded and compiled, a week of events aggregated) answers
repeated questions from a short-lived cache, still within the caller's scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.main import create_app
from soc.runtime import Runtime
from soc.sources import coverage
from tests.sources.conftest import add_agency


def test_coverage_is_computed_once_per_question(isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated, "so-a", address="collector.so-a.vn")
    reader = accounts_store.create_token(client, names, "reader-a", "viewer", ["so-a"])
    calls: list[tuple[str, str]] = []
    real = coverage.check

    def counting(*args: Any, **kwargs: Any) -> coverage.Coverage:
        calls.append((args[2], args[3]))
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage, "check", counting)
    head = {"Authorization": f"Bearer {reader}"}
    with TestClient(create_app(runtime=Runtime.build(isolated))) as api:
        answers = [api.get("/api/v1/sources/coverage?agency=so-a&type=nginx", headers=head) for _ in range(3)]
        assert all(a.status_code == 200 for a in answers) and len({a.text for a in answers}) == 1
        assert calls == [("so-a", "nginx")]
        assert api.get("/api/v1/sources/coverage?agency=so-a&type=syslog", headers=head).status_code == 200
        assert calls == [("so-a", "nginx"), ("so-a", "syslog")]  # another question is computed
        # the cache does not widen the scope: another agency is still refused
        assert api.get("/api/v1/sources/coverage?agency=so-b&type=nginx", headers=head).status_code == 404
