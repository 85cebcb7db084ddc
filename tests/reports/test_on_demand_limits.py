"""On-demand reports through the API: a scheduled report is never overwritten, rendering from
stored content is cached, and production on demand has a per-caller budget."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.main import create_app
from soc.reports import period, service, store
from soc.reports.settings import ReportSettings
from soc.runtime import Runtime
from tests.reports.conftest import AFTER, A


@pytest.fixture()
def api(dataset: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    monkeypatch.setenv("SOC_REPORT_OUT_DIR", str(tmp_path / "api"))
    client, names = search.client(dataset), search.names(dataset)
    analyst = accounts_store.create_token(client, names, f"an-{uuid.uuid4().hex[:8]}", "analyst", [A])
    with TestClient(create_app(runtime=Runtime(dataset, client, names))) as http:
        yield http, f"Bearer {analyst}"


def test_an_analyst_cannot_overwrite_a_scheduled_report(api: tuple[TestClient, str], dataset: Settings,
                                                        tmp_path: Path) -> None:
    http, analyst = api
    client, names = search.client(dataset), search.names(dataset)
    rs = ReportSettings(out_dir=tmp_path / "scheduled")
    week = period.parse("2025-W09", rs.timezone)
    made = service.produce(client, names, rs, week, A, "en", ("json",), "schedule", AFTER)
    before = made.paths["json"].read_bytes()
    r = http.post("/api/v1/reports", json={"week": "2025-W09", "agency": A, "lang": "en"},
                  headers={"Authorization": analyst})
    assert r.status_code == 409, r.text
    assert "produced by schedule" in r.json()["detail"] and "not replaced" in r.json()["detail"]
    kept = store.get_report(client, names, f"2025-W09.{A}.en")
    assert kept is not None and kept["trigger"] == "schedule" and kept["created"] == made.doc["created"]
    assert made.paths["json"].read_bytes() == before  # the scheduled file is untouched too
    # a report produced on demand may be produced on demand again
    for _ in range(2):
        again = http.post("/api/v1/reports", json={"week": "2025-W09", "agency": A, "lang": "vi"},
                          headers={"Authorization": analyst})
        assert again.status_code == 201, again.text


def test_the_check_and_the_write_are_one_step(dataset: Settings, tmp_path: Path) -> None:
    client, names = search.client(dataset), search.names(dataset)
    rs = ReportSettings(out_dir=tmp_path)
    week = period.parse("2025-W09", rs.timezone)
    scheduled = service.produce(client, names, rs, week, A, "en", ("json",), "schedule", AFTER).doc
    # an on-demand document arriving after the check passed still cannot replace it
    assert not store.save_on_demand(client, names, scheduled | {"trigger": "api", "created": "later"})
    assert (store.get_report(client, names, scheduled["id"]) or {})["created"] == scheduled["created"]


def test_rendering_from_content_is_cached(api: tuple[TestClient, str], dataset: Settings,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    http, analyst = api
    made = http.post("/api/v1/reports", json={"week": "2025-W10", "agency": A, "lang": "en"},
                     headers={"Authorization": analyst})
    assert made.status_code == 201, made.text
    calls: list[str] = []
    real = service.render

    def counting(content: dict[str, Any], fmt: str) -> bytes:
        calls.append(fmt)
        return real(content, fmt)

    monkeypatch.setattr(service, "render", counting)
    bodies = [http.get(f"/api/v1/reports/2025-W10.{A}.en/csv", headers={"Authorization": analyst})
              for _ in range(3)]
    assert all(b.status_code == 200 for b in bodies) and len({b.content for b in bodies}) == 1
    assert calls == ["csv"]  # rendered once, then served from the cache


def test_production_on_demand_has_a_budget_per_caller(api: tuple[TestClient, str]) -> None:
    http, analyst = api
    codes = [http.post("/api/v1/reports", json={"week": "2025-W08", "agency": A, "lang": "en"},
                       headers={"Authorization": analyst}) for _ in range(service.GENERATIONS_PER_10_MIN + 1)]
    assert [c.status_code for c in codes[:-1]] == [201] * service.GENERATIONS_PER_10_MIN
    refused = codes[-1]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "producing reports on demand" in refused.json()["detail"]
