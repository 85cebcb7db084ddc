"""Fuzzing the hunt operations from the OpenAPI document (and the query language with random text)
finds no server error: bad input is always a 4xx."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soc.main import create_app
from soc.runtime import Runtime
from tests.hunt.conftest import bearer, index, web

ALPHABET = st.sampled_from([*'abc:*?"()[]{}<>=/\\ -_.09', " AND ", " OR ", "NOT ", " TO ", "source.ip", "url.path",
                            "http.response.status_code", "@timestamp", "10.0.0.0/8", "2026-12-01T00:00:00Z"])


def test_fuzzing_hunt_operations_finds_no_server_error(rt: Runtime, tokens: dict[str, str]) -> None:
    index(rt, [web("10.0.0.1", "/a", ago=1), web("10.0.0.2", "/b", agency="agency-b", ago=2)])
    app = create_app(runtime=rt)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    mine = [r.ok() for r in schema.get_all_operations()
            if r.ok().path.startswith(("/api/v1/search", "/api/v1/rules"))]
    assert len(mine) == 7
    failures: list[str] = []
    codes: list[int] = []
    with TestClient(app, raise_server_exceptions=False):
        for operation in mine:
            _fuzz(operation, tokens["admin"], failures, codes)
    assert failures == []
    assert any(c < 300 for c in codes) and any(400 <= c < 500 for c in codes)


def _fuzz(operation: Any, token: str, failures: list[str], codes: list[int]) -> None:
    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=bearer(token))
        codes.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

    check()


def test_random_queries_are_answered_or_refused_never_failed(rt: Runtime, tokens: dict[str, str]) -> None:
    index(rt, [web("10.0.0.1", "/a", ago=1)])
    failures: list[str] = []
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as api:
        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(words=st.lists(ALPHABET, max_size=12))
        def check(words: list[str]) -> None:
            text = "".join(words)
            r = api.post("/api/v1/search", headers=bearer(tokens["analyst_a"]), json={"query": text})
            if r.status_code not in (200, 400):
                failures.append(f"{text!r}: {r.status_code} {r.text[:200]}")
            elif r.status_code == 400:
                assert isinstance(r.json()["reason"], str)

        check()
    assert failures == []
