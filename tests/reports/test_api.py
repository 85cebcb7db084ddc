"""/api/v1/reports on the real node: agency scope for listing and downloads, on-demand production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.main import create_app
from soc.reports import period, service
from soc.reports.settings import ReportSettings
from soc.runtime import Runtime
from tests.reports.conftest import AFTER, XSS_PATH, A, B


@pytest.fixture()
def api(dataset: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, dict[str, str]]]:
    monkeypatch.setenv("SOC_REPORT_OUT_DIR", str(tmp_path / "api"))
    client, names = search.client(dataset), search.names(dataset)
    rs = ReportSettings(out_dir=tmp_path)
    week = period.parse("2025-W10", rs.timezone)
    for agency in (None, A, B):
        service.produce(client, names, rs, week, agency, "vi", ("json", "html"), "test", AFTER)
    tokens = {"admin": accounts_store.create_token(client, names, "boss", "admin", ["*"]),
              "analyst_a": accounts_store.create_token(client, names, "an-a", "analyst", [A]),
              "viewer_a": accounts_store.create_token(client, names, "view-a", "viewer", [A])}
    rt = Runtime(dataset, client, names)
    with TestClient(create_app(runtime=rt)) as http:
        yield http, {k: f"Bearer {v}" for k, v in tokens.items()}


def test_scope_of_listing_and_downloads(api: tuple[TestClient, dict[str, str]]) -> None:
    http, tok = api
    assert http.get("/api/v1/reports").status_code == 401
    everything = http.get("/api/v1/reports", headers={"Authorization": tok["admin"]}).json()
    assert everything["total"] == 3
    assert {r["agency"] for r in everything["items"]} == {None, A, B}

    mine = http.get("/api/v1/reports", headers={"Authorization": tok["analyst_a"]}).json()
    assert [(r["id"], r["agency"], r["scope"]) for r in mine["items"]] == [(f"2025-W10.{A}.vi", A, "agency")]
    assert mine["items"][0]["summary"] == {"events": 20, "alerts": 3, "incidents_opened": 2, "open_at_end": 1}
    past_end = http.get("/api/v1/reports?limit=1&offset=10000", headers={"Authorization": tok["admin"]})
    assert past_end.status_code == 422 and "offset + limit" in past_end.json()["detail"]
    last = http.get("/api/v1/reports?limit=1&offset=9999", headers={"Authorization": tok["admin"]})
    assert last.status_code == 200 and last.json()["items"] == []
    # Asking for another agency's reports by filter returns nothing, not the other agency's.
    assert http.get(f"/api/v1/reports?agency={B}", headers={"Authorization": tok["analyst_a"]}).json()["total"] == 0

    for other in (f"2025-W10.{B}.vi", "2025-W10.province.vi"):
        for suffix in ("", "/html", "/pdf"):
            resp = http.get(f"/api/v1/reports/{other}{suffix}", headers={"Authorization": tok["analyst_a"]})
            assert resp.status_code == 404, (other, suffix)

    full = http.get(f"/api/v1/reports/2025-W10.{A}.vi", headers={"Authorization": tok["viewer_a"]}).json()
    assert full["content"]["events"]["total"]["current"] == 20
    html = http.get(f"/api/v1/reports/2025-W10.{A}.vi/html", headers={"Authorization": tok["analyst_a"]})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    assert XSS_PATH not in html.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in html.text
    # The PDF was not produced as a file: it is rendered from the stored content on request.
    pdf = http.get(f"/api/v1/reports/2025-W10.{A}.vi/pdf", headers={"Authorization": tok["analyst_a"]})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert http.get(f"/api/v1/reports/2025-W10.{A}.vi/xml",
                    headers={"Authorization": tok["admin"]}).status_code == 422


def test_production_on_demand(api: tuple[TestClient, dict[str, str]]) -> None:
    http, tok = api
    body = {"week": "2025-W09", "agency": A, "lang": "en"}
    assert http.post("/api/v1/reports", json=body, headers={"Authorization": tok["viewer_a"]}).status_code == 403
    assert http.post("/api/v1/reports", json=body | {"agency": B},
                     headers={"Authorization": tok["analyst_a"]}).status_code == 404
    assert http.post("/api/v1/reports", json=body | {"agency": None},
                     headers={"Authorization": tok["analyst_a"]}).status_code == 403
    assert http.post("/api/v1/reports", json=body | {"week": "2025-W60"},
                     headers={"Authorization": tok["analyst_a"]}).status_code == 422
    made = http.post("/api/v1/reports", json=body, headers={"Authorization": tok["analyst_a"]})
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["id"] == f"2025-W09.{A}.en" and out["trigger"] == "api"
    assert out["summary"]["events"] == 6  # last week's a-web (4) and a-old (2)
    assert out["formats"] == ["json"]
    csv_text = http.get(f"/api/v1/reports/{out['id']}/csv", headers={"Authorization": tok["analyst_a"]}).text
    assert csv_text.lstrip("\ufeff").startswith("section,item,detail,this_week,last_week,change")
