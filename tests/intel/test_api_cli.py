"""``POST /api/v1/intel/import`` (admins of every agency only), listing and removal; ``soc intel`` and
``soc detect --once`` on the real node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from soc import cli, search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.intel import store as intel_store
from soc.main import create_app
from soc.runtime import Runtime
from tests.intel.feeds import ago, intel_alerts, stix_bundle, web_event, write


@pytest.fixture()
def api(isolated: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=Runtime.build(isolated))) as client:
        yield client


def _bearer(settings: Settings, role: str, agencies: list[str]) -> dict[str, str]:
    token = accounts_store.create_token(search.client(settings), search.names(settings), f"u-{role}", role, agencies)
    return {"Authorization": f"Bearer {token}"}


def test_only_an_admin_of_every_agency_imports_and_bad_input_is_a_422(isolated: Settings, api: TestClient) -> None:
    admin = _bearer(isolated, "admin", ["*"])
    bundle = stix_bundle("[ipv4-addr:value = '198.51.100.7']", "[url:value = 'http://bad.example.net/a']")
    for who in (_bearer(isolated, "analyst", ["*"]), _bearer(isolated, "admin", ["so-tttt"])):
        r = api.post("/api/v1/intel/import", params={"feed": "cert"}, content=bundle, headers=who)
        assert r.status_code == 403, r.text
    r = api.post("/api/v1/intel/import", params={"feed": "cert", "expires_days": 7}, content=bundle, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() | {"notes": []} == {"feed": "cert", "format": "stix", "read": 2, "created": 2, "updated": 0,
                                        "expired": 0, "notes": []}
    r = api.post("/api/v1/intel/import", params={"feed": "cert", "format": "list"}, content="198.51.100.9\ncom\n",
                 headers=admin)
    assert r.status_code == 422
    assert r.json()["detail"] == ("request body: line 2: 'com' is too broad: it is a public suffix (a top-level or "
                                  "registry domain such as com or gov.vn) under which anyone can register names; "
                                  "nothing was imported")
    viewer = _bearer(isolated, "viewer", ["so-tttt"])
    page = api.get("/api/v1/intel/indicators", headers=viewer).json()
    assert page["total"] == 2 and {i["name"] for i in page["items"]} == {"198.51.100.7", "http://bad.example.net/a"}
    assert all(i["feed"] == "cert" and i["confidence"] == 80 for i in page["items"])
    gone = api.post("/api/v1/intel/indicators/remove", json={"ids": [page["items"][0]["id"]]}, headers=viewer)
    assert gone.status_code == 403
    gone = api.post("/api/v1/intel/indicators/remove", json={"ids": [page["items"][0]["id"]]}, headers=admin)
    assert gone.json() == {"removed": 1}
    assert api.get("/api/v1/intel/indicators", headers=admin).json()["total"] == 1


def test_soc_intel_commands_and_detect_once_retro_hunt(isolated: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", isolated.index_prefix)
    monkeypatch.setenv("SOC_DETECT_FIRST_LOOKBACK_S", "60")  # the old event lies before the first window
    write(isolated, [web_event({"source.ip": "203.0.113.77", "url.domain": "shop.example.org"}, when=ago(days=5))])
    feed = tmp_path / "partner-feed.csv"
    feed.write_text("indicator,type,confidence\n203.0.113.77,ip,95\nshop.example.org,domain,\n", encoding="utf-8")
    assert cli.main(["intel", "import", str(feed), "--expires", "30"]) == 0
    out = capsys.readouterr().out
    assert "2 indicators read (csv) into feed partner-feed: 2 new, 0 updated, 0 already expired" in out
    assert cli.main(["detect", "--once", str(tmp_path)]) == 0  # no rule files there: only the indicators run
    got = intel_alerts(isolated)
    assert len(got) == 2 and {a["threat"]["matched"]["how"] for a in got} == {"retro-hunt"}
    assert "incidents: 1 opened" in capsys.readouterr().out  # both alerts are about the same event
    assert cli.main(["detect", "--once", str(tmp_path)]) == 0
    assert len(intel_alerts(isolated)) == 2
    assert cli.main(["intel", "list", "--feed", "partner-feed"]) == 0
    assert "2 of 2 indicators" in capsys.readouterr().out
    assert cli.main(["intel", "remove", "--feed", "partner-feed"]) == 0
    assert "removed 2 indicators" in capsys.readouterr().out
    assert intel_store.count(search.client(isolated), search.names(isolated)) == 0
    feed.write_text("value\n10.0.0.0/6\n", encoding="utf-8")
    assert cli.main(["intel", "import", str(feed)]) == 1
    assert "partner-feed.csv: line 2: '10.0.0.0/6' is too broad" in capsys.readouterr().err
