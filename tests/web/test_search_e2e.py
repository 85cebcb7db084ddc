"""The Search page in Chromium: query bar, histogram, results shown as text, filter in and out from the
top values, a query error with its position, exports, and agency scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from soc.auth import Principal
from soc.hunt import preview
from soc.hunt.schemas import PreviewIn, SearchIn
from soc.hunt.service import SearchService
from tests.web import world as w
from tests.web.conftest import login, shot


def test_search_filter_and_export(page: Page, world: w.World) -> None:
    login(page, "ana")
    page.locator("header nav a", has_text="Search").click()
    page.wait_for_url("**/console/search**")
    page.select_option("#search-range", "30d")
    page.locator("#search-go").click()
    now = datetime.now(UTC)
    ana = Principal("ana", "analyst", (w.AGENCY,))
    req = SearchIn.model_validate({"from": now - timedelta(days=30), "to": now})
    total = SearchService(world.rt.client, world.rt.names).search(ana, req, now)["total"]
    assert total >= len(w.OWN_LINES)
    expect(page.locator("#search-total")).to_contain_text(f"{total} events")
    assert page.locator("#histogram rect.bar").count() >= 25
    assert page.locator("#results tbody tr").count() == min(total, 50)
    expect(page.locator("#results")).to_contain_text("<script>alert('own-1')</script>")  # text, not markup
    assert page.locator("#results script, #results img, #results iframe").count() == 0
    shot(page, "search")
    # filter in on the hostile address from its top value, then leave its 404s out
    page.locator(f'section[data-field="source.ip"] li:has-text("{w.HOSTILE_IP}") a.filter-in').click()
    expect(page.locator("#search-q")).to_have_value(f'source.ip:"{w.HOSTILE_IP}"')
    expect(page.locator("#search-total")).to_contain_text("4 events")
    page.locator('section[data-field="http.response.status_code"] li:has-text("404") a.filter-out').click()
    expect(page.locator("#search-total")).to_contain_text("3 events")
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 3 and {r["source.ip"] for r in rows} == {w.HOSTILE_IP}
    # a query that does not parse says where
    page.locator("#search-q").fill("url.path:/x AND nope.field:1")
    page.locator("#search-go").click()
    expect(page.locator("#search-error")).to_contain_text("At position 16: unknown field 'nope.field'")
    expect(page.locator("#search-error-where")).to_contain_text("^")


def test_search_is_scoped_to_the_agency(page: Page, world: w.World) -> None:
    login(page, "bob")  # agency-b: none of agency-a's events
    page.goto("/console/search?range=30d&q=")
    expect(page.locator("#search-total")).to_contain_text("0 events")
    assert page.locator("#results tbody tr").count() == 0


def test_incident_pivot_opens_the_search_prefilled(page: Page, world: w.World) -> None:
    login(page, "ana")
    ident = next(v for k, v in world.incidents.items() if k.endswith("|" + w.HOSTILE_IP))
    page.goto(f"/console/incidents/{ident}")
    page.locator(f'li:has(code:text-is("source.ip={w.HOSTILE_IP}")) a.pivot-search').click()
    page.wait_for_url("**/console/search**")
    expect(page.locator("#search-q")).to_have_value(f'source.ip:"{w.HOSTILE_IP}"')
    expect(page.locator("#search-total")).to_contain_text("4 events")  # the day before it, up to an hour after


def test_rule_lab_previews_a_rule(page: Page, world: w.World) -> None:
    rule = (w.RULES / "path_traversal.yml").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    req = PreviewIn.model_validate({"rule": rule, "from": now - timedelta(days=30), "to": now})
    want = preview.preview(world.rt.client, world.rt.names, Principal("ana", "analyst", (w.AGENCY,)), req, now)
    assert want["total"] >= 1
    login(page, "ana")
    page.goto("/console/rules")
    page.locator("#rule-lab").click()
    page.locator("#lab-rule").fill(rule)
    page.select_option("#lab-range", "30d")
    page.locator("#lab-run").click()
    expect(page.locator("#lab-total")).to_contain_text(f"{want['total']} alerts")
    expect(page.locator("#lab-entities")).to_contain_text(f"source.ip={w.SCANNER_IP}")
    page.locator("#lab-rule").fill("title: broken\ndetection: [")
    page.locator("#lab-run").click()
    expect(page.locator("#lab-error")).to_contain_text("not valid YAML at line 2")
