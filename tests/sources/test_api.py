"""The agencies and sources API on the real node: onboarding returns the files, agency scope holds,
roles are enforced, bad input is a 422 that stores nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.main import create_app
from soc.runtime import Runtime


def test_agencies_and_sources_api(isolated: Settings) -> None:
    rt = Runtime.build(isolated)
    client, names = search.client(isolated), search.names(isolated)
    admin = accounts_store.create_token(client, names, "root", "admin", ["*"])
    local_admin = accounts_store.create_token(client, names, "sysadmin-a", "admin", ["so-a"])
    viewer_b = accounts_store.create_token(client, names, "viewer-b", "viewer", ["so-b"])

    def h(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    with TestClient(create_app(runtime=rt)) as api:
        for agency in ("so-a", "so-b"):
            r = api.post("/api/v1/agencies", headers=h(admin), json={
                "id": agency, "name_vi": f"Sở {agency}", "name_en": f"Dept {agency}",
                "contacts": ["ops@example.vn"], "collector_address": f"collector.{agency}.vn"})
            assert r.status_code == 201, r.text
        # only an admin of every agency adds agencies
        assert api.post("/api/v1/agencies", headers=h(local_admin), json={
            "id": "so-c", "name_vi": "c", "name_en": "c"}).status_code == 403
        r = api.post("/api/v1/sources", headers=h(local_admin), json={
            "agency": "so-a", "type": "syslog", "name": "Firewall", "expected_rate": 5, "silence_after": 15})
        assert r.status_code == 201, r.text
        body = r.json()
        sid = body["source"]["id"]
        assert body["source"]["collector"] == {"id": "col-so-a", "address": "collector.so-a.vn", "port": 6514,
                                               "protocol": "tls"}
        assert 'target="collector.so-a.vn" port="6514"' in body["files"][f"rsyslog-60-soc-{sid}.conf"]
        # a system admin of agency A cannot onboard for agency B (it does not exist for them)
        assert api.post("/api/v1/sources", headers=h(local_admin), json={
            "agency": "so-b", "type": "syslog", "name": "x"}).status_code == 404
        bad = api.post("/api/v1/sources", headers=h(admin), json={
            "agency": "so-a", "type": "iis", "name": "x"})
        assert bad.status_code == 422 and "type" in bad.json()["detail"]
        assert [s["id"] for s in api.get("/api/v1/sources", headers=h(admin)).json()] == [sid]
        # agency scope: agency B's viewer sees neither the source nor agency A
        assert api.get("/api/v1/sources", headers=h(viewer_b)).json() == []
        assert api.get(f"/api/v1/sources/{sid}", headers=h(viewer_b)).status_code == 404
        assert [a["id"] for a in api.get("/api/v1/agencies", headers=h(viewer_b)).json()] == ["so-b"]
        health = api.get(f"/api/v1/sources/{sid}/health", headers=h(local_admin)).json()
        assert health["state"] == "degraded" and health["reasons"] == ["waiting for the first event"]
        cov = api.get("/api/v1/sources/coverage", headers=h(admin), params={"agency": "so-a", "type": "syslog"})
        assert cov.status_code == 200 and cov.json()["events"] == 0 and cov.json()["cannot_fire"]
        assert api.delete(f"/api/v1/sources/{sid}", headers=h(viewer_b)).status_code == 404
        assert api.delete(f"/api/v1/sources/{sid}", headers=h(local_admin)).status_code == 204
        assert api.get("/api/v1/sources", headers=h(admin)).json() == []
