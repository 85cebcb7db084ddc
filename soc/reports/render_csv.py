"""The CSV: one flat table of every figure, safe to open in a spreadsheet.

Columns: section, item, detail, this_week, last_week, change. A text cell that starts with a
character spreadsheets read as a formula (= + - @, tab, carriage return) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from typing import Any

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("section", "item", "detail", "this_week", "last_week", "change")


def neutralize(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(DANGEROUS_START):
        return "'" + value
    return value


def rows(c: dict[str, Any]) -> list[tuple[Any, ...]]:
    def d(section: str, item: str, detail: str, v: dict[str, Any]) -> tuple[Any, ...]:
        return section, item, detail, v["current"], v["previous"], v["delta"]

    out: list[tuple[Any, ...]] = [d("overview", r["metric"][2:], "", r) for r in c["deltas"]]
    for a in c["events"]["agencies"]:
        out.append(d("events", a["id"], "", a))
        out += [d("events", a["id"], s["id"], s) for s in a["sources"]]
    out += [("source_health", s["agency"], s["source"], s["silent_hours"], s["degraded_hours"], s["events"])
            for s in c["source_health"]["sources"]]
    out += [d("alerts_by_severity", r["severity"], "", r) for r in c["alerts"]["by_severity"]]
    out += [d("alerts_by_tactic", r["tactic"], "", r) for r in c["alerts"]["by_tactic"]]
    out += [("alerts_by_rule", r["id"], r["name"], r["count"], "", "") for r in c["alerts"]["by_rule"]]
    out += [("alerts_per_day", day, "", n, "", "") for day, n in c["alerts"]["per_day"].items()]
    out += [("top_attackers", a["ip"], "", a["alerts"], "", "") for a in c["top"]["attackers"]]
    for key in ("urls", "hosts", "accounts"):
        out += [(f"top_{key}", r["value"], "", r["count"], "", "") for r in c["top"][key]]
    origins = c.get("origins") or {"countries": [], "networks": []}
    out += [("attacks_by_country", r["key"], r["name"], r["alerts"], "", "") for r in origins["countries"]]
    out += [("attacks_by_network", f"AS{r['key']}", r["name"], r["alerts"], "", "") for r in origins["networks"]]
    out += [("notable", i["id"], i["title"], i["severity"], i["status"], i["resolution"] or "") for i in c["notable"]]
    out += [("changes", e["object_id"], e["action"], e["at"], e["actor"], e["summary"]) for e in c["changes"]["items"]]
    return out


def render(content: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(content):
        writer.writerow([neutralize("" if v is None else v) for v in row])
    return buf.getvalue()
