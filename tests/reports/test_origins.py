"""The weekly report's "attacks by country and network": the week's alerts counted by the country and
the network of their source address, on alerts the test makes through the real path (indicators
imported, events written through the ingest pipeline, a detection cycle enriching its alerts)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings
from soc.intel import service as intel
from soc.reports import content, period, render_csv, render_html
from soc.reports.settings import ReportSettings
from tests.intel.feeds import ADMIN, cycle, web_event, write
from tests.intel.geodb import enriched

TZ = "Asia/Ho_Chi_Minh"
EVIL_ORG = "<img src=x onerror=alert(1)> Hosting"


@pytest.fixture()
def report(opensearch_settings: Settings, geoip_databases: tuple[Path, ...],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    with enriched(opensearch_settings, geoip_databases, monkeypatch) as settings:
        client, names = search.client(settings), search.names(settings)
        addresses = ["8.8.8.8", "8.8.8.9", "14.160.5.5", "45.33.1.1", "203.0.113.10", "10.0.0.9", "9.9.9.9"]
        intel.import_text(client, names, ADMIN, "\n".join(addresses) + "\n", "geo-feed")
        cycle(settings)  # the indicators' retro-hunt finds nothing yet
        write(settings, [web_event({"source.ip": a}) for a in [*addresses, "8.8.8.8", "45.33.1.1"]])
        cycle(settings)
        week = period.containing(datetime.now(UTC), TZ)
        yield content.build(client, names, week, None, "en", ReportSettings())


def test_alerts_are_counted_by_source_country_and_network(report: dict[str, object]) -> None:
    origins = report["origins"]
    assert origins == {
        "countries": [{"key": "US", "name": "United States", "alerts": 3, "addresses": 2},
                      {"key": "JP", "name": "Japan", "alerts": 2, "addresses": 1},
                      {"key": "VN", "name": "Vietnam", "alerts": 1, "addresses": 1}],
        "networks": [{"key": 15169, "name": "Example Search Co", "alerts": 3, "addresses": 2},
                     {"key": 64500, "name": EVIL_ORG, "alerts": 2, "addresses": 1},
                     {"key": 45899, "name": "Example Telecom VN", "alerts": 1, "addresses": 1}],
        "with_address": 9, "special": 2, "unknown": 1}


def test_the_section_is_in_both_languages_escaped_and_in_the_csv(report: dict[str, object]) -> None:
    en = render_html.render(report)
    assert "<h2>Attacks by country and network</h2>" in en
    assert "<td><code>US</code></td><td>United States</td><td class=\"n\">3</td><td class=\"n\">2</td>" in en
    assert "<td><code>AS15169</code></td><td>Example Search Co</td>" in en
    assert EVIL_ORG not in en and "&lt;img src=x onerror=alert(1)&gt; Hosting" in en
    assert "private or special addresses (not looked up): 2; not in the geo databases: 1." in en
    vi = render_html.render({**report, "report": {**report["report"], "lang": "vi"}})  # type: ignore[dict-item]
    assert "<h2>Tấn công theo quốc gia và mạng</h2>" in vi and "<h3>Quốc gia nguồn</h3>" in vi
    assert EVIL_ORG not in vi
    rows = list(csv.reader(io.StringIO(render_csv.render(report))))
    assert ["attacks_by_country", "VN", "Vietnam", "1", "", ""] in rows
    assert ["attacks_by_network", "AS64500", EVIL_ORG, "2", "", ""] in rows


def test_a_report_stored_before_the_section_existed_still_renders() -> None:
    old = {k: v for k, v in _empty().items() if k != "origins"}
    assert "Attacks by country and network" not in render_html.render(old)
    assert not [r for r in render_csv.rows(old) if r[0].startswith("attacks_by")]


def _empty() -> dict[str, object]:
    delta = {"current": 0, "previous": 0, "delta": 0, "change_pct": None}
    return {"report": {"week": "2025-W10", "start": "", "end": "", "timezone": TZ, "first_day": "2025-03-03",
                       "last_day": "2025-03-09", "scope": "province", "lang": "en", "generated": "", "agency": None},
            "deltas": [], "events": {"total": delta, "agencies": []},
            "source_health": {"silent_hours": 0, "degraded_hours": 0, "sources": []},
            "alerts": {"total": delta, "by_severity": [], "by_tactic": [], "by_rule": [], "per_day": {}, "late": 0},
            "incidents": {k: delta for k in ("opened", "acknowledged", "resolved", "open_at_end", "mtta_seconds",
                                             "mttr_seconds", "ack_breaches", "resolve_breaches")}
            | {"opened_by_severity": {}, "resolutions": {}},
            "top": {"attackers": [], "urls": [], "hosts": [], "accounts": []},
            "origins": {"countries": [], "networks": [], "with_address": 0, "special": 0, "unknown": 0},
            "notable": [], "changes": {"total": 0, "items": []}}
