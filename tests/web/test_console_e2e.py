"""The console in a real browser (Debian's Chromium through Playwright) against a real node.

Each page fixture fails its test on any JS dialog, console error or page error, so a payload
that executed anywhere, or a script blocked by the Content-Security-Policy, fails the test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from soc import search
from soc.auth import Principal
from soc.reports import period
from soc.reports import service as reports
from soc.reports.settings import ReportSettings
from tests.web import world as w
from tests.web.conftest import login, shot


def test_login_and_queue_sorted_by_severity(page: Page, world: w.World) -> None:
    page.goto("/console/incidents")
    assert "/console/login" in page.url  # no session: the login page, remembering where to go
    login(page, "ana")
    expect(page.locator("h1")).to_have_text("Incident queue")
    rows = page.locator("#queue tr.row")
    assert rows.count() == len(set(world.incidents.values()))
    ranks = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
    severities = [ranks[c.split("sev-")[1]] for c in
                  page.locator("#queue tr.row td .sev").evaluate_all("els => els.map(e => e.className)")]
    assert severities == sorted(severities, reverse=True)
    expect(page.locator("#queue .sla").first).to_contain_text("Acknowledge by")
    # Keyboard: j moves to the first row, Enter opens it.
    page.locator("body").press("j")
    first = rows.first.get_attribute("data-href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{first}")
    shot(page, "incident")
    page.go_back()
    shot(page, "queue")


def test_triage_from_new_to_resolved(page: Page, world: w.World) -> None:
    incident_id = world.incident("Path Traversal", w.SCANNER_IP)  # the hostile address's case stays new
    login(page, "ana")
    page.goto(f"/console/incidents/{incident_id}")
    expect(page.locator("#status")).to_have_text("new")
    page.locator("#ack").click()
    expect(page.locator(".flash.ok")).to_have_text("Acknowledged.")
    expect(page.locator("#status")).to_have_text("acknowledged")
    page.locator("#assign-me").click()
    expect(page.locator("#assignee")).to_have_text("ana")
    page.get_by_label("Add a comment").fill("Scanner from outside; blocked at the edge.")
    page.locator("#comment-submit").click()
    expect(page.locator("#comments")).to_contain_text("blocked at the edge")
    page.get_by_label("New status").select_option("resolved")
    page.locator("#change-status").click()  # without a resolution: refused, nothing changes
    expect(page.locator(".flash.error")).to_contain_text("resolution")
    expect(page.locator("#status")).to_have_text("acknowledged")
    page.get_by_label("New status").select_option("resolved")
    page.get_by_label("Resolution").select_option("true_positive")
    page.locator("#change-status").click()
    expect(page.locator("#status")).to_contain_text("resolved")
    expect(page.locator("#resolution")).to_have_text("true positive")
    expect(page.locator("#timeline")).to_contain_text("Status: new → acknowledged")
    doc = world.doc(incident_id)
    assert (doc["status"], doc["resolution"], doc["assignee"]) == ("resolved", "true_positive", "ana")
    assert [h["status"] for h in doc["history"]] == ["new", "acknowledged", "resolved"]
    assert doc["comments"][0]["author"] == "ana"


def test_exception_suppresses_the_next_match(page: Page, world: w.World) -> None:
    incident_id = world.incident("Path Traversal", w.SCANNER_IP)
    before = world.doc(incident_id)["alert_count"]
    login(page, "ana")
    page.goto(f"/console/incidents/{incident_id}")
    page.locator("#exception-box summary").click()
    page.get_by_label("Event field").fill("source.ip")
    page.get_by_label("Comparison").select_option("equals")
    page.get_by_label("Value").fill(w.SCANNER_IP)
    page.get_by_label("Reason").fill("The agency's own vulnerability scanner")
    page.locator("#exc-submit").click()
    expect(page.locator(".flash.ok")).to_contain_text("Exception created")
    expect(page.locator("#exceptions .exc-hits")).to_have_text("0")
    # The scanner sends the same request again; detection runs one cycle.
    client = search.client(world.settings)
    w.index_lines(client, world.settings, [
        f'{w.SCANNER_IP} - - [27/Nov/2026:00:10:00 +0000] "GET /../../etc/passwd HTTP/1.1" 400 157 "-" "curl/7.88.1"',
        f'{w.BENIGN_IP} - - [27/Nov/2026:00:10:01 +0000] "GET /../../etc/shadow HTTP/1.1" 400 157 "-" "curl/7.88.1"',
    ], world.web_source)
    report = w.detect(world.settings)
    assert report.suppressed == 1  # the scanner's match; the other address still raises an alert
    assert report.alerts_created >= 1
    from soc.incidents import grouping

    grouping.run(world.rt)
    assert world.doc(incident_id)["alert_count"] == before
    page.reload()
    expect(page.locator("#exceptions .exc-hits")).to_have_text("1")


def test_vietnamese_is_a_per_user_choice(page: Page, world: w.World) -> None:
    login(page, "ana")
    page.get_by_label("Language").select_option("vi")
    page.locator("#lang-apply").click()
    expect(page.locator("h1")).to_have_text("Hàng đợi sự cố")
    assert page.locator("html").get_attribute("lang") == "vi"
    expect(page.locator("#logout")).to_have_text("Đăng xuất")
    expect(page.locator("#queue thead")).to_contain_text("Mức độ")
    page.goto(f"/console/incidents/{world.incident('Cross-Site Scripting', w.HOSTILE_IP)}")
    expect(page.locator("#alerts-h")).to_have_text("Cảnh báo và sự kiện khớp")
    shot(page, "incident-vi")
    page.locator("#logout").click()
    expect(page.locator("#login")).to_be_visible()
    # The choice belongs to the user: it comes back at the next sign-in, and back to English after.
    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password").fill(w.PASSWORD)
    page.locator("#login").click()
    expect(page.locator("h1")).to_have_text("Hàng đợi sự cố")
    page.get_by_label("Ngôn ngữ").select_option("en")
    page.locator("#lang-apply").click()
    expect(page.locator("h1")).to_have_text("Incident queue")


def test_viewer_sees_no_actions_and_cannot_post_them(page: Page, world: w.World) -> None:
    incident_id = world.incident("Scanner", w.HOSTILE_IP)
    before = world.doc(incident_id)
    login(page, "vic")
    expect(page.locator("#bulk-apply")).to_have_count(0)
    expect(page.locator("#queue input[name=ids]")).to_have_count(0)
    page.goto(f"/console/incidents/{incident_id}")
    for control in ("#ack", "#assign-me", "#change-status", "#exc-submit", "#merge-submit", "#comment-submit"):
        expect(page.locator(control)).to_have_count(0)
    csrf = page.locator("form[action='/console/logout'] input[name=csrf]").get_attribute("value")
    version = f"{0}-{1}"
    for action, form in (("acknowledge", {"version": version}), ("assign", {"version": version}),
                         ("status", {"version": version, "status": "resolved", "resolution": "benign"}),
                         ("comment", {"text": "viewer was here"}),
                         ("exception", {"rule_id": before["rule_ids"][0], "field": "source.ip", "op": "equals",
                                        "value": w.HOSTILE_IP, "reason": "nope", "days": "3"})):
        resp = page.request.post(f"/console/incidents/{incident_id}/{action}", form={"csrf": csrf or "", **form},
                                 max_redirects=0)
        assert resp.status == 403, (action, resp.status)
    resp = page.request.post("/console/incidents/bulk", form={"csrf": csrf or "", "ids": incident_id,
                                                              "action": "close", "back": ""}, max_redirects=0)
    assert resp.status == 403
    after = world.doc(incident_id)
    assert (after["status"], after["assignee"], after["comments"]) == (before["status"], before["assignee"],
                                                                      before["comments"])


def test_hostile_log_lines_are_shown_as_text(page: Page, world: w.World) -> None:
    login(page, "ana")
    incident_id = world.incident("Cross-Site Scripting", w.HOSTILE_IP)
    page.goto(f"/console/incidents/{incident_id}")
    raw = page.locator("pre.raw").all_inner_texts()
    assert any("<script>alert('own-1')</script>" in r for r in raw)
    assert any("<img src=x onerror=alert('own-2')>" in r for r in raw)
    page.get_by_label("Add a comment").fill("<script>alert('comment')</script><img src=x onerror=alert(9)>")
    page.locator("#comment-submit").click()
    expect(page.locator("#comments")).to_contain_text("<script>alert('comment')</script>")
    # The lines are dated days before they were indexed: the page gives their own time and says the
    # detection came late.
    expect(page.locator("article.alert span.late").first).to_contain_text("after it happened")
    # Matched fields are marked, and the only script on the page is the console's own file.
    expect(page.locator(".matched-list mark").first).to_be_visible()
    assert page.locator("script").count() == 1
    assert page.locator("script").get_attribute("src") == "/console/static/console.js"
    assert page.locator("[onerror], [onload], iframe, svg, img").count() == 0
    # The pivot lists the address's events, still as text.
    page.locator("a.pivot-events").first.click()
    expect(page.locator("#events")).to_contain_text("onerror=alert('own-2')")
    assert page.locator("[onerror], [onload], iframe, svg, img").count() == 0
    shot(page, "pivot-events")
    if w.SHARED_USED:
        nikto = world.incident("Cross-Site Scripting", "127.0.0.22")
        page.goto(f"/console/incidents/{nikto}")
        expect(page.locator("pre.raw").first).to_contain_text("<script>alert(document.cookie)")
        assert page.locator("[onerror], [onload], iframe, svg, img").count() == 0


def test_rules_sources_and_reports_pages(page: Page, world: w.World, tmp_path: Path) -> None:
    client = search.client(world.settings)
    names = search.names(world.settings)
    rs = ReportSettings(out_dir=tmp_path, timezone="Asia/Ho_Chi_Minh")
    week = period.containing(datetime.now(UTC), rs.timezone)
    mine = reports.produce(client, names, rs, week, w.AGENCY, "en", ("json", "html"), "test").doc
    reports.produce(client, names, rs, week, "agency-b", "en", ("json",), "test")
    login(page, "ana")
    page.goto("/console/rules")
    expect(page.locator("#coverage")).to_contain_text("initial-access")
    expect(page.locator("#coverage")).to_contain_text("T1190")
    xss_row = page.locator("#rules tr", has_text="Cross-Site Scripting Attempt")
    expect(xss_row).to_contain_text("yes")
    assert int(xss_row.locator("td.num").first.inner_text()) >= 1  # hits recorded by the cycle
    shot(page, "rules")
    page.goto("/console/sources")
    first = page.locator("#sources tbody tr").first
    expect(first).to_contain_text("Edge firewall")  # onboarded two hours ago, never heard from: listed first
    expect(first).to_contain_text("silent")
    web_row = page.locator("#sources tr", has_text="Public web site")
    expect(web_row).to_contain_text("healthy")
    # senders that are no registered source of the agency whose stream they reached: listed, in scope
    for agency, sender in ((w.AGENCY, "stray-a"), ("agency-b", "stray-b")):
        client.index(index=names.stream("logs-web", agency), refresh=True, body={
            "@timestamp": datetime.now(UTC).isoformat(), "event": {"original": "GET / HTTP/1.1"},
            "log": {"source": {"id": sender}}})
    page.goto("/console/sources")
    expect(page.locator("#sources tr", has_text="stray-a")).to_contain_text("unknown sender")
    expect(page.locator("#sources")).not_to_contain_text("stray-b")  # agency-b's, not ana's
    shot(page, "sources")
    page.goto("/console/reports")
    expect(page.locator("#reports tbody tr")).to_have_count(1)  # agency-b's report is not listed
    page.locator("#reports a", has_text=week.label).click()
    expect(page.locator("#summary")).to_contain_text("Incidents opened")
    shot(page, "report")
    with page.expect_download() as download:
        page.locator("a.download[data-format=json]").click()
    assert download.value.suggested_filename == f"{mine['id']}.json"
    assert json.loads(Path(download.value.path()).read_text(encoding="utf-8"))["report"]["week"] == week.label
    html = page.request.get(f"/console/reports/{mine['id']}/file/html")
    assert html.status == 200 and "script-src" not in html.headers["content-security-policy"]
    others = reports.list_for(client, names, Principal("root", "admin", ("*",)), None, "agency-b", 10, 0)[1]
    assert page.request.get(f"/console/reports/{others[0]['id']}").status == 404


def test_bulk_acknowledge_from_the_keyboard_then_merge_and_unmerge(page: Page, world: w.World) -> None:
    scanner = world.incident("Scanner", w.HOSTILE_IP)
    target = world.incident("Path Traversal", w.SCANNER_IP)
    login(page, "ana")
    page.goto("/console/incidents?status=new&sort=created")
    row = page.locator(f"#queue tr.row[data-id='{scanner}']")
    row.focus()
    page.keyboard.press("x")  # select the focused row
    expect(row.locator("input[name=ids]")).to_be_checked()
    page.get_by_label("With the selected").select_option("acknowledge")
    page.locator("#bulk-apply").click()
    expect(page.locator(".flash.ok")).to_have_text("1 incidents changed.")
    assert world.doc(scanner)["status"] == "acknowledged"
    before = world.doc(target)["alert_count"]
    page.goto(f"/console/incidents/{target}")
    page.locator("#merge-box summary").click()
    page.get_by_label("Incident ids (separated by spaces)").fill(scanner)
    page.locator("#merge-submit").click()
    expect(page.locator(".flash.ok")).to_have_text("Incidents merged.")
    expect(page.locator("#alert-count")).to_have_text(str(before + world.doc(scanner)["alert_count"]))
    assert world.doc(scanner)["merged_into"] == target
    page.locator("button.unmerge").click()
    expect(page.locator(".flash.ok")).to_have_text("Incident taken out again.")
    expect(page.locator("#alert-count")).to_have_text(str(before))
    restored = world.doc(scanner)
    assert restored["merged_into"] is None and restored["status"] == "acknowledged"
