"""The OpenAPI document is complete, and fuzzing every operation from it finds no server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from soc.incidents import grouping
from soc.main import create_app
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts


def test_the_document_names_every_resource(rt: Runtime) -> None:
    doc = create_app(runtime=rt).openapi()
    paths = set(doc["paths"])
    for resource in ("incidents", "alerts", "exceptions", "users", "tokens", "audit", "webhooks"):
        assert f"/api/v1/{resource}" in paths
    assert "/api/v1/incidents/{incident_id}" in paths
    assert "patch" in doc["paths"]["/api/v1/incidents/{incident_id}"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_fuzzing_the_api_finds_no_server_error(rt: Runtime, alerts: Alerts, tokens: dict[str, str]) -> None:
    alerts.add()
    alerts.add(agency="agency-b", ip="10.0.0.2")
    grouping.run(rt)
    app = create_app(runtime=rt)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    codes: list[int] = []
    head = {"Authorization": f"Bearer {tokens['admin']}"}
    operations = list(schema.get_all_operations())
    assert len(operations) >= 25
    with TestClient(app):
        for result in operations:
            _fuzz(result.ok(), head, failures, codes)
    assert failures == []
    assert len(codes) >= 100 and any(c < 300 for c in codes) and any(400 <= c < 500 for c in codes)


def _fuzz(operation: Any, head: dict[str, str], failures: list[str], codes: list[int]) -> None:
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=head)
        codes.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

    check()


@pytest.mark.parametrize("path", ["/api/v1/incidents", "/api/v1/audit"])
def test_errors_are_problem_details(rt: Runtime, path: str) -> None:
    with TestClient(create_app(runtime=rt)) as client:
        r = client.get(path)
    assert r.status_code == 401
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["status"] == 401 and body["title"] and body["detail"]
