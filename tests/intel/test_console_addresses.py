"""The incident page's lines beside an alert's addresses (soc/web/templates/alert_addresses.html)."""

from __future__ import annotations

from typing import Any

from soc.web import i18n, render


def _html(alert: dict[str, Any], lang: str = "en") -> str:
    template = render.environment().get_template("alert_addresses.html")
    return " ".join(template.render(a=alert, t=lambda key, **v: i18n.translate(lang, key, **v)).split())


def test_geo_and_as_beside_public_addresses_and_a_mark_on_special_ones() -> None:
    alert = {"source": {"ip": "8.8.8.8", "geo": {"country_iso_code": "US", "country_name": "United States",
                                                 "city_name": "Mountain View"},
                        "as": {"number": 15169, "organization": {"name": "Example <Search> Co"}}},
             "destination": {"ip": "10.0.0.5"}, "labels": {"destination_ip_scope": "private"},
             "threat": {"indicator": {"name": "8.8.8.8", "provider": "cert-vn", "confidence": "High"}}}
    html = _html(alert)
    assert ('<p class="geo">source.ip 8.8.8.8: United States · Mountain View · AS15169 Example &lt;Search&gt; Co</p>'
            in html)
    assert '<p class="geo muted">destination.ip 10.0.0.5: private address, not looked up</p>' in html
    assert "Threat intelligence: 8.8.8.8 (feed cert-vn, confidence High)" in html
    assert "địa chỉ private, không tra cứu" in _html(alert, "vi")


def test_an_alert_without_addresses_or_indicator_adds_nothing() -> None:
    assert _html({"user": {"name": "root"}, "threat": {"tactic": {"name": []}}}) == ""
    assert _html({"source": {"ip": "9.9.9.9", "geo": {"country_iso_code": "DE"}}}) == (
        '<p class="geo">source.ip 9.9.9.9: DE</p>')
