"""The incident page in a real browser: one case for the hostile address, its rules on an event-time
story in ATT&CK order, and its history in the reader's language."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web import world as w
from tests.web.conftest import login, shot


def test_the_attackers_case_tells_its_story_in_tactic_order(page: Page, world: w.World) -> None:
    xss = world.incident("Cross-Site Scripting", w.HOSTILE_IP)
    assert world.incident("Scanner", w.HOSTILE_IP) == xss  # one case for the address, not one per rule
    doc = world.doc(xss)
    assert len(doc["rule_ids"]) >= 2 and doc["keys"] == [f"@attacker|{w.AGENCY}|source.ip={w.HOSTILE_IP}"]
    login(page, "ana")
    page.goto(f"/console/incidents/{xss}")
    lanes = page.locator("#story tr.lane")
    expect(lanes).to_have_count(len(doc["rule_ids"]))
    tactics = lanes.evaluate_all("rows => rows.map(r => r.dataset.tactic)")
    # the scanner's user agent came last in time but is reconnaissance: it is drawn first
    assert tactics[0] == "reconnaissance" and "initial-access" in tactics
    order = ["reconnaissance", "initial-access", "execution", "persistence"]
    known = [order.index(t) for t in tactics if t in order]
    assert known == sorted(known)
    expect(lanes.first.locator(".tactic")).to_have_text("Reconnaissance")
    expect(lanes.first.locator(".span-bar i.mark")).to_have_count(1)
    expect(page.locator("#timeline")).to_contain_text(f"opened with {doc['alert_count']} alerts")
    page.locator("#ack").click()
    expect(page.locator(".flash.ok")).to_have_text("Acknowledged.")
    world.rt.client.indices.refresh(index=world.rt.names.audit)  # the history is read from the audit trail
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("Status: new → acknowledged")
    page.get_by_label("Language").select_option("vi")
    page.locator("#lang-apply").click()
    page.goto(f"/console/incidents/{xss}")
    expect(page.locator("#story-h")).to_have_text("Kẻ tấn công đã làm gì")
    expect(lanes.first.locator(".tactic")).to_have_text("Trinh sát")
    expect(page.locator("#timeline")).to_contain_text(f"mở với {doc['alert_count']} cảnh báo")
    expect(page.locator("#timeline")).to_contain_text("Trạng thái: mới → đã tiếp nhận")
    expect(page.locator("#timeline")).not_to_contain_text("incident.update")
    shot(page, "incident-story-vi")
    page.get_by_label("Ngôn ngữ").select_option("en")
    page.locator("#lang-apply").click()
