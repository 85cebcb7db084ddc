"""The rules page counts hits within the reader's agencies: an agency's analyst does not learn
how often rules fire on other agencies' data."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from soc.detection import store as detection_store
from tests.web import world as w
from tests.web.test_security import sign_in

XSS = "Cross-Site Scripting Attempt In Request URI"


@pytest.fixture()
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=30) as client:
        yield client


def _hits(html: str, title: str) -> int:
    table = html.split('id="rules"', 1)[1]  # the rules table (the coverage above also names rules)
    row = next(r for r in table.split("<tr") if title in r)
    found = re.search(r'<td class="num">(\d+)</td>', row)
    assert found, row[:400]
    return int(found.group(1))


def _alerts_of(world: w.World, agency: str) -> int:
    client, names = world.rt.client, world.rt.names
    client.indices.refresh(index=names.alerts)
    body = {"query": {"bool": {"filter": [{"term": {"rule.name.keyword": XSS}},
                                          {"term": {"organization.id": agency}}]}}}
    return int(client.count(index=names.alerts, body=body)["count"])


def test_rule_hits_are_counted_within_the_readers_agencies(http: httpx.Client, world: w.World) -> None:
    # rule states are written without a refresh (the console can lag a second): make them visible
    world.rt.client.indices.refresh(index=world.rt.names.rules_state)
    states = detection_store.rule_states(world.rt.client, world.rt.names)
    total = sum(int(s.get("hits", 0)) for s in states.values())
    assert total > 0 and _alerts_of(world, w.AGENCY) > 0 and _alerts_of(world, "agency-b") == 0
    assert sign_in(http, "bob").status_code == 303  # an analyst of agency-b only
    page = http.get("/console/rules")
    assert page.status_code == 200
    assert _hits(page.text, XSS) == 0  # agency-a's attacks are not counted for agency-b
    http.cookies.clear()
    assert sign_in(http, "ana").status_code == 303  # agency-a's analyst sees agency-a's alerts
    assert _hits(http.get("/console/rules").text, XSS) == _alerts_of(world, w.AGENCY)
