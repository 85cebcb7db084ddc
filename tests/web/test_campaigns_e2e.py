"""The campaigns page in a real browser: the hostile lines reach two agencies; an all-agency user sees
the campaign whole, an agency's analyst only their part and a hint, never the other's incidents."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from soc import search
from soc.accounts import store as accounts_store
from soc.incidents import grouping
from tests.incidents import labelled
from tests.web import world as w
from tests.web.conftest import login, shot


def test_campaigns_page_by_scope(page: Page, world: w.World) -> None:
    client, names = search.client(world.settings), search.names(world.settings)
    accounts_store.create_user(client, names, "prov", "analyst", ["*"], w.PASSWORD)
    labelled.index(world.settings, "agency-b", w.OWN_LINES, [])  # the same attacker at a second agency
    w.detect(world.settings)
    grouping.run(world.rt)
    entity = f"source.ip={w.HOSTILE_IP}"
    theirs = [h["_id"] for h in client.search(index=names.incidents, body={"query": {"bool": {"filter": [
        {"term": {"organization.id": "agency-b"}}, {"term": {"entities": entity}}]}}})["hits"]["hits"]]
    assert theirs

    login(page, "prov")
    page.locator("nav a[href='/console/campaigns']").click()
    page.get_by_label("Window").select_option("30")  # the lines are a week old
    page.locator("#c-apply").click()
    row = page.locator(f"#campaigns tr.campaign[data-entity='{entity}']")
    expect(row.locator(".agencies")).to_have_text("agency-a, agency-b")
    expect(row.locator(".incidents a")).to_have_count(2)
    # the attacker's user agent is a campaign too, shown as the text it is
    expect(page.locator("#campaigns")).to_contain_text("user_agent.original=<img src=x onerror=alert('own-2')>")
    assert page.locator("#campaigns [onerror], #campaigns img").count() == 0
    shot(page, "campaigns")
    page.locator("#logout").click()

    login(page, "ana")
    page.goto("/console/campaigns?days=30")
    expect(row.locator(".agencies")).to_contain_text("agency-a")
    expect(row.locator(".elsewhere")).to_have_text("also active at other agencies")
    expect(row.locator(".incidents a")).to_have_count(1)
    html = page.content()
    assert "agency-b" not in html and not any(i in html for i in theirs)
    row.locator(".incidents a").first.click()
    expect(page.locator("#incident-title")).to_contain_text(w.HOSTILE_IP)
