"""Charts drawn with matplotlib (Agg backend) and returned as SVG data URIs, so nothing is fetched.

Text is drawn as paths: the SVG carries no fonts and no markup taken from the data.
"""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

MAX_BARS = 15
COLORS = {"current": "#1f5fa8", "previous": "#a9bfd9"}
SEVERITY_COLORS = {"critical": "#8b0000", "high": "#d9480f", "medium": "#f59f00", "low": "#2f9e44",
                   "informational": "#868e96"}


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _data_uri(fig: Any) -> str:
    import matplotlib

    buf = io.BytesIO()
    # A label with characters the font lacks (log content can hold any) is drawn with boxes, silently.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "soc-report"}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_bars(rows: list[tuple[str, float, float]], this_week: str, last_week: str) -> str:
    """Horizontal bars, this week against last week, one pair per label."""
    rows = rows[:MAX_BARS][::-1]
    fig = _figure(7.0, max(1.6, 0.38 * len(rows) + 0.8))
    ax = fig.subplots()
    pos = list(range(len(rows)))
    ax.barh([p + 0.2 for p in pos], [r[1] for r in rows], height=0.4, color=COLORS["current"], label=this_week)
    ax.barh([p - 0.2 for p in pos], [r[2] for r in rows], height=0.4, color=COLORS["previous"], label=last_week)
    ax.set_yticks(pos, [_short(r[0]) for r in rows], fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(fig)


def severity_bars(counts: dict[str, float], order: list[tuple[str, str]]) -> str:
    """Vertical bars per severity (``order`` gives (severity, label))."""
    fig = _figure(5.0, 2.4)
    ax = fig.subplots()
    ax.bar([label for _, label in order], [counts.get(sev, 0) for sev, _ in order],
           color=[SEVERITY_COLORS.get(sev, "#555") for sev, _ in order])
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(fig)


def per_day(days: dict[str, int]) -> str:
    fig = _figure(6.0, 2.2)
    ax = fig.subplots()
    labels = [d[5:] for d in days]
    ax.plot(labels, list(days.values()), marker="o", color=COLORS["current"])
    ax.fill_between(labels, list(days.values()), alpha=0.15, color=COLORS["current"])
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(fig)


def for_report(content: dict[str, Any], words: dict[str, str]) -> dict[str, str]:
    """The report's charts by name, ready for ``<img src=...>``."""
    events = [(a["name"], a["current"], a["previous"]) for a in content["events"]["agencies"]]
    if content["report"]["scope"] == "agency" and content["events"]["agencies"]:
        events = [(s["id"], s["current"], s["previous"]) for s in content["events"]["agencies"][0]["sources"]]
    alerts = content["alerts"]
    return {
        "events": compare_bars(events, words["this_week"], words["last_week"]),
        "severity": severity_bars({r["severity"]: r["current"] for r in alerts["by_severity"]},
                                  [(r["severity"], r["severity"]) for r in alerts["by_severity"]]),
        "tactics": compare_bars([(r["tactic"], r["current"], r["previous"]) for r in alerts["by_tactic"]],
                                words["this_week"], words["last_week"]),
        "per_day": per_day(alerts["per_day"]),
    }
