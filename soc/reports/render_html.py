"""The HTML report: one Jinja2 template with autoescaping on, charts inline as data URIs."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from soc.reports import charts
from soc.reports.i18n import labels

DASH = "\u2013"  # shown for an unknown figure


def environment() -> Environment:
    env = Environment(loader=PackageLoader("soc.reports", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default=True))
    env.filters["duration"] = duration
    env.filters["signed"] = signed
    env.filters["signed_duration"] = signed_duration
    return env


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def signed(value: float | None, pct: float | None = None) -> str:
    if value is None:
        return DASH
    text = f"{value:+,}" if isinstance(value, int) else f"{value:+,.0f}"
    return f"{text} ({pct:+.1f}%)" if pct is not None else text


def signed_duration(seconds: float | None, pct: float | None = None) -> str:
    if seconds is None:
        return DASH
    text = ("+" if seconds >= 0 else "-") + duration(abs(seconds))
    return f"{text} ({pct:+.1f}%)" if pct is not None else text


def render(content: dict[str, Any], with_charts: bool = True) -> str:
    lang = content["report"]["lang"]
    words = labels(lang)
    pictures = charts.for_report(content, words) if with_charts else {}
    template = environment().get_template("report.html")
    return template.render(c=content, t=words, charts=pictures, lang=lang)
