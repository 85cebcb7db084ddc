"""The incident page in a real browser for a threat-intelligence match on a public address: the
indicator (feed and value) and the address's country and network beside it, in both languages, with
the event's hostile text shown as text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from soc import search
from soc.accounts import store as accounts_store
from soc.agencies import service as agencies
from soc.auth import Principal
from soc.config import Settings
from soc.incidents import grouping
from soc.incidents.service import IncidentService
from soc.intel import service as intel
from soc.opensearch import bootstrap
from soc.runtime import Runtime
from tests.intel.feeds import cycle, web_event, write
from tests.web import world as w
from tests.web.conftest import login, shot

ATTACKER = "14.160.7.7"  # public; the suite's City and ASN databases place it (tests.intel.geodb)
FEED = "cert-vn"
HOSTILE_PATH = "/q?<img src=x onerror=alert('geo-1')>"


@pytest.fixture(scope="module")
def world(opensearch_settings: Settings, geoip_databases: tuple[Path, ...]) -> Iterator[w.World]:
    """A deployment reading the suite's geo databases: an indicator imported, the attacker's event
    written through the ingest pipeline, one detection cycle, grouping into an incident."""
    settings = replace(opensearch_settings, index_prefix=f"t{uuid.uuid4().hex[:10]}-")
    client, names = search.client(settings), search.names(settings)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOC_GEOIP_DATABASES", ",".join(str(p) for p in geoip_databases))
        bootstrap.init(settings, client, names)
        try:
            root = Principal("seed", "admin", ("*",))
            accounts_store.create_user(client, names, "ana", "analyst", [w.AGENCY], w.PASSWORD)
            agencies.add(client, names, root, agencies.new_document(w.AGENCY, "Sở A", "Agency A", "Asia/Ho_Chi_Minh"))
            intel.import_text(client, names, root, f"{ATTACKER}\n", FEED, confidence=80)
            cycle(settings)
            write(settings, [web_event({"source.ip": ATTACKER, "url.path": HOSTILE_PATH}, agency=w.AGENCY,
                                       when=datetime.now(UTC))])
            cycle(settings)
            client.indices.refresh(index=names.alerts)
            rt = Runtime.build(settings)
            grouping.run(rt)
            found = IncidentService(rt).search(root, {"limit": 10})["items"]
            world = w.World(settings, rt, "")
            for stored in found:
                if f"source.ip={ATTACKER}" in stored.doc["entities"]:
                    world.incidents[f"intel|{ATTACKER}"] = stored.doc["id"]
            yield world
        finally:
            bootstrap.remove_prefix(client, settings.index_prefix)


def test_the_incident_shows_the_indicator_and_the_addresses_country_and_network(page: Page,
                                                                               world: w.World) -> None:
    incident = world.incident("intel", ATTACKER)
    login(page, "ana")
    page.goto(f"/console/incidents/{incident}")
    alert = page.locator("article.alert").first
    expect(alert.locator("p.intel")).to_have_text(f"Threat intelligence: {ATTACKER} (feed {FEED}, confidence High)")
    expect(alert.locator("p.geo")).to_have_text(
        f"source.ip {ATTACKER}: Vietnam · Hanoi · AS45899 Example Telecom VN")
    # the stored event carries the same data, added by the ingest pipeline
    alert.locator("details summary").first.click()
    fields = alert.locator("table.fields").first
    expect(fields.locator("tr", has_text="source.geo.country_iso_code")).to_contain_text("VN")
    expect(fields.locator("tr", has_text="source.as.organization.name")).to_contain_text("Example Telecom VN")
    expect(fields.locator("tr", has_text="url.path")).to_contain_text(HOSTILE_PATH)  # as text, no dialog
    shot(page, "incident-intel-geo-en")
    page.get_by_label("Language").select_option("vi")
    page.locator("#lang-apply").click()
    page.goto(f"/console/incidents/{incident}")
    expect(page.locator("article.alert p.intel").first).to_have_text(
        f"Tình báo mối đe dọa: {ATTACKER} (nguồn {FEED}, độ tin cậy High)")
    expect(page.locator("article.alert p.geo").first).to_contain_text("Vietnam · Hanoi · AS45899")
